//! Every op file is registered and gradient-checked: a new op cannot land untested.
//!
//! Each file in `src/ops/` must be declared in `src/ops/mod.rs` and must either call
//! `check_grads(` in its tests or say `// no-gradient: <reason>` in its header.

use std::fs;
use std::path::Path;

#[test]
fn every_op_has_a_gradient_check() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/ops");
    let module = fs::read_to_string(dir.join("mod.rs")).unwrap();
    let mut missing = Vec::new();
    let mut count = 0;
    for entry in fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_stem().unwrap().to_string_lossy().to_string();
        if name == "mod" || path.extension().is_none_or(|e| e != "rs") {
            continue;
        }
        count += 1;
        let src = fs::read_to_string(&path).unwrap();
        if !module.contains(&format!("mod {name};")) {
            missing.push(format!("{name}: not declared in ops/mod.rs"));
        }
        if !src.contains("check_grads(") && !src.contains("// no-gradient:") {
            missing.push(format!("{name}: no check_grads( call and no `// no-gradient:` reason"));
        }
        if !src.contains("#[cfg(test)]") {
            missing.push(format!("{name}: no tests"));
        }
    }
    assert!(count >= 10, "found only {count} op files");
    assert!(missing.is_empty(), "ops without gradient checks:\n{}", missing.join("\n"));
}
