//! What the engine's tests of library procedures share: the library's procedures, loaded
//! once, and changing a scenario's data.
#![allow(dead_code)]

use rathaus_engine::Procedure;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Mutex, OnceLock};

/// The procedure `id` of the library shipped with Rathaus; a library problem fails the test
/// with every problem listed.
pub fn procedure(id: &str) -> &'static Procedure {
    static LOADED: OnceLock<Mutex<BTreeMap<String, &'static Procedure>>> = OnceLock::new();
    let mut loaded = LOADED.get_or_init(Default::default).lock().unwrap();
    loaded.entry(id.to_string()).or_insert_with(|| {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../library").join(id);
        let p = Procedure::load_dir(&dir).unwrap_or_else(|ps| {
            panic!("{id} invalid:\n{}", ps.iter().map(|p| p.to_string()).collect::<Vec<_>>().join("\n"))
        });
        Box::leak(Box::new(p))
    })
}

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
