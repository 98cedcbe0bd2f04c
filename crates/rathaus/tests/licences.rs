//! Every dependency's licence must be on the allow list of `deny.toml` (EUPL-1.2
//! compatibility). The same list drives `cargo deny check licenses`; this test needs no
//! extra tool, so CI always checks it.

use serde_json::Value;
use std::path::Path;
use std::process::Command;

fn allow_list(root: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(root.join("deny.toml")).expect("deny.toml at the workspace root");
    let value: toml::Value = toml::from_str(&text).expect("deny.toml is valid TOML");
    value["licenses"]["allow"]
        .as_array()
        .expect("[licenses] allow")
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect()
}

/// Evaluates an SPDX licence expression (OR, AND, WITH, parentheses; `/` as OR in old
/// manifests) against the allow list.
fn allowed(expr: &str, allow: &[String]) -> bool {
    let spaced = expr.replace('(', " ( ").replace(')', " ) ").replace('/', " OR ");
    let tokens: Vec<&str> = spaced.split_whitespace().collect();
    let mut pos = 0;
    let result = or(&tokens, &mut pos, allow);
    result && pos == tokens.len()
}

fn or(t: &[&str], pos: &mut usize, allow: &[String]) -> bool {
    let mut ok = and(t, pos, allow);
    while t.get(*pos) == Some(&"OR") {
        *pos += 1;
        let right = and(t, pos, allow);
        ok = ok || right;
    }
    ok
}

fn and(t: &[&str], pos: &mut usize, allow: &[String]) -> bool {
    let mut ok = atom(t, pos, allow);
    while t.get(*pos) == Some(&"AND") {
        *pos += 1;
        let right = atom(t, pos, allow);
        ok = ok && right;
    }
    ok
}

fn atom(t: &[&str], pos: &mut usize, allow: &[String]) -> bool {
    match t.get(*pos) {
        Some(&"(") => {
            *pos += 1;
            let ok = or(t, pos, allow);
            if t.get(*pos) == Some(&")") {
                *pos += 1;
            }
            ok
        }
        Some(id) => {
            *pos += 1;
            let mut name = id.to_string();
            if t.get(*pos) == Some(&"WITH") {
                name = format!("{name} WITH {}", t.get(*pos + 1).unwrap_or(&""));
                *pos += 2;
            }
            allow.contains(&name)
                || (name.contains(" WITH ") && allow.iter().any(|a| name.starts_with(&format!("{a} WITH "))))
        }
        None => false,
    }
}

#[test]
fn spdx_evaluation() {
    let allow: Vec<String> =
        ["MIT", "Apache-2.0", "Apache-2.0 WITH LLVM-exception"].iter().map(|s| s.to_string()).collect();
    assert!(allowed("MIT OR GPL-3.0", &allow));
    assert!(!allowed("MIT AND GPL-3.0", &allow));
    assert!(allowed("(MIT OR GPL-3.0) AND Apache-2.0", &allow));
    assert!(allowed("MIT/Apache-2.0", &allow));
    assert!(allowed("Apache-2.0 WITH LLVM-exception", &allow));
    assert!(!allowed("GPL-2.0", &allow));
}

#[test]
fn every_dependency_licence_is_compatible_with_the_eupl() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let allow = allow_list(&root);
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .args(["metadata", "--format-version", "1", "--locked"])
        .current_dir(&root)
        .output()
        .expect("cargo metadata");
    assert!(out.status.success(), "cargo metadata failed: {}", String::from_utf8_lossy(&out.stderr));
    let meta: Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut bad = Vec::new();
    for p in meta["packages"].as_array().unwrap() {
        let name = p["name"].as_str().unwrap();
        match p["license"].as_str() {
            Some(l) if allowed(l, &allow) => {}
            Some(l) => bad.push(format!("{name} {}: {l}", p["version"])),
            None => bad.push(format!("{name} {}: no licence declared", p["version"])),
        }
    }
    assert!(bad.is_empty(), "dependencies with licences not on the allow list of deny.toml:\n{}", bad.join("\n"));
}
