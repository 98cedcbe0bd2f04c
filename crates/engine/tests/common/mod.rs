//! What the engine's tests of library procedures share: changing a scenario's data.
#![allow(dead_code)]

use serde_json::Value;

/// `base` with `patch` merged in (objects merged key by key; null removes a key).
pub fn with(mut base: Value, patch: Value) -> Value {
    merge(&mut base, patch);
    base
}

fn merge(a: &mut Value, b: Value) {
    match (a, b) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, v) in b {
                if v.is_null() {
                    a.remove(&k);
                } else {
                    merge(a.entry(k).or_insert(Value::Null), v);
                }
            }
        }
        (a, b) => *a = b,
    }
}
