//! A tiny JSON writer for benchmark reports (flat objects and arrays of them).

use std::fmt::Write;

/// A JSON value.
pub enum Json {
    Num(f64),
    Int(i64),
    Str(String),
    Arr(Vec<Json>),
    Obj(Vec<(String, Json)>),
}

impl Json {
    pub fn obj(fields: Vec<(&str, Json)>) -> Json {
        Json::Obj(fields.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
    }

    pub fn render(&self) -> String {
        let mut s = String::new();
        self.write(&mut s, 0);
        s.push('\n');
        s
    }

    fn write(&self, s: &mut String, depth: usize) {
        let pad = "  ".repeat(depth + 1);
        match self {
            Json::Num(x) if x.is_finite() => write!(s, "{}", (x * 1000.0).round() / 1000.0).unwrap(),
            Json::Num(_) => s.push_str("null"),
            Json::Int(i) => write!(s, "{i}").unwrap(),
            Json::Str(t) => write!(s, "\"{}\"", t.replace('\\', "\\\\").replace('"', "\\\"")).unwrap(),
            Json::Arr(v) => {
                s.push('[');
                for (i, x) in v.iter().enumerate() {
                    s.push_str(if i == 0 { "\n" } else { ",\n" });
                    s.push_str(&pad);
                    x.write(s, depth + 1);
                }
                s.push('\n');
                s.push_str(&"  ".repeat(depth));
                s.push(']');
            }
            Json::Obj(f) => {
                s.push('{');
                for (i, (k, v)) in f.iter().enumerate() {
                    s.push_str(if i == 0 { "\n" } else { ",\n" });
                    write!(s, "{pad}\"{k}\": ").unwrap();
                    v.write(s, depth + 1);
                }
                s.push('\n');
                s.push_str(&"  ".repeat(depth));
                s.push('}');
            }
        }
    }
}
