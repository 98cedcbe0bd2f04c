//! DMN beyond the TCK, on the engine's own API: every hit policy, decision requirement
//! graphs, literal expressions and the FEEL the procedures use (dates, durations, lists,
//! contexts, built-in functions). Inside DMN files dsntk's own parser reads the FEEL, so paths
//! before `return`/`satisfies` are parenthesised as docs/library-format.md says.

use rathaus_engine::dmn::Decisions;
use serde_json::{json, Value};

const HEAD: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="https://www.omg.org/spec/DMN/20191111/MODEL/" id="d" name="d" namespace="https://rathaus.example/test">
  <inputData id="antrag" name="antrag" />"#;

/// A table over `antrag.n` with rules n > 0 → 1, n > 5 → 2, n > 10 → 3 (outputs overlap).
fn table(id: &str, hit_policy: &str, aggregation: Option<&str>) -> String {
    let agg = aggregation.map(|a| format!(r#" aggregation="{a}""#)).unwrap_or_default();
    format!(
        r##"<decision id="{id}" name="{id}">
    <informationRequirement id="ir_{id}"><requiredInput href="#antrag" /></informationRequirement>
    <decisionTable id="t_{id}" hitPolicy="{hit_policy}"{agg}>
      <input id="i_{id}"><inputExpression id="ie_{id}" typeRef="number"><text>antrag.n</text></inputExpression></input>
      <output id="o_{id}" name="stufe" typeRef="number"><outputValues id="ov_{id}"><text>3,2,1</text></outputValues></output>
      <rule id="r1_{id}"><inputEntry id="e1_{id}"><text>&gt; 0</text></inputEntry><outputEntry id="o1_{id}"><text>1</text></outputEntry></rule>
      <rule id="r2_{id}"><inputEntry id="e2_{id}"><text>&gt; 5</text></inputEntry><outputEntry id="o2_{id}"><text>2</text></outputEntry></rule>
      <rule id="r3_{id}"><inputEntry id="e3_{id}"><text>&gt; 10</text></inputEntry><outputEntry id="o3_{id}"><text>3</text></outputEntry></rule>
    </decisionTable>
  </decision>"##
    )
}

fn decisions() -> Decisions {
    let mut xml = HEAD.to_string();
    for (id, hp, agg) in [
        ("Unique", "UNIQUE", None),
        ("Any", "ANY", None),
        ("Priority", "PRIORITY", None),
        ("First", "FIRST", None),
        ("RuleOrder", "RULE ORDER", None),
        ("OutputOrder", "OUTPUT ORDER", None),
        ("Collect", "COLLECT", None),
        ("Sum", "COLLECT", Some("SUM")),
        ("Min", "COLLECT", Some("MIN")),
        ("Max", "COLLECT", Some("MAX")),
        ("Count", "COLLECT", Some("COUNT")),
    ] {
        xml.push_str(&table(id, hp, agg));
    }
    xml.push_str(
        r##"<decision id="Fristen" name="Fristen">
    <informationRequirement id="ir_f1"><requiredInput href="#antrag" /></informationRequirement>
    <informationRequirement id="ir_f2"><requiredDecision href="#Max" /></informationRequirement>
    <literalExpression id="le_f"><text>{
  beginn: date(antrag.beginn),
  ende: date(antrag.beginn) + duration("P14D"),
  tage: (date(antrag.ende) - date(antrag.beginn)) / duration("P1D"),
  jahr: date(antrag.ende).year,
  wochentag: day of week(date(antrag.beginn)),
  stufe_max: Max,
  namen: for p in (antrag.personen) return upper case(p.name),
  volljaehrig: every p in (antrag.personen) satisfies (p.alter) >= 18,
  summe: sum((antrag.personen).alter),
  gefiltert: (antrag.personen)[alter > 30].name,
  text: substring("Gewerbeanzeige", 1, 7) + " " + string(count(antrag.personen)),
  enthalten: list contains(["a", "b"], "b"),
  sortiert: sort([3, 1, 2], function(x, y) x &lt; y)
}</text></literalExpression>
  </decision>
</definitions>"##,
    );
    Decisions::load(&[("test.dmn".into(), xml)]).unwrap_or_else(|p| panic!("{p:?}"))
}

fn eval(d: &Decisions, id: &str, n: i64) -> Result<Value, String> {
    d.evaluate(id, &json!({"antrag": {"n": n}}))
}

#[test]
fn every_hit_policy() {
    let d = decisions();
    // UNIQUE: one rule matches → its output; several → no result (an error, not a guess).
    assert_eq!(eval(&d, "Unique", 3).unwrap(), json!(1));
    assert!(eval(&d, "Unique", 7).is_err(), "two rules match a UNIQUE table");
    // ANY: overlapping rules must agree; here they do not.
    assert_eq!(eval(&d, "Any", 3).unwrap(), json!(1));
    assert!(eval(&d, "Any", 7).is_err());
    // PRIORITY: the output value listed first in outputValues wins (3 before 2 before 1).
    assert_eq!(eval(&d, "Priority", 7).unwrap(), json!(2));
    assert_eq!(eval(&d, "Priority", 20).unwrap(), json!(3));
    // FIRST: the first matching rule in table order.
    assert_eq!(eval(&d, "First", 20).unwrap(), json!(1));
    // RULE ORDER: all matches in rule order; OUTPUT ORDER: by output value priority.
    assert_eq!(eval(&d, "RuleOrder", 20).unwrap(), json!([1, 2, 3]));
    assert_eq!(eval(&d, "OutputOrder", 20).unwrap(), json!([3, 2, 1]));
    // COLLECT and its aggregations C+, C<, C>, C#.
    assert_eq!(eval(&d, "Collect", 7).unwrap(), json!([1, 2]));
    assert_eq!(eval(&d, "Sum", 20).unwrap(), json!(6));
    assert_eq!(eval(&d, "Min", 20).unwrap(), json!(1));
    assert_eq!(eval(&d, "Max", 20).unwrap(), json!(3));
    assert_eq!(eval(&d, "Count", 20).unwrap(), json!(3));
    // No rule matches: null for single hit, an empty list for multiple hits.
    assert!(eval(&d, "First", -1).map(|v| v.is_null()).unwrap_or(true));
    assert_eq!(eval(&d, "Collect", -1).unwrap_or(json!([])), json!([]));
}

#[test]
fn decision_requirement_graph_literal_expression_and_feel() {
    let d = decisions();
    let input = json!({"antrag": {"n": 20, "beginn": "2026-11-02", "ende": "2027-01-15",
        "personen": [{"name": "erika", "alter": 41}, {"name": "max", "alter": 19}]}});
    let r = d.evaluate("Fristen", &input).unwrap();
    assert_eq!(r["ende"], json!("2026-11-16"));
    assert_eq!(r["tage"], json!(74));
    assert_eq!(r["jahr"], json!(2027));
    assert_eq!(r["wochentag"], json!("Monday"));
    assert_eq!(r["stufe_max"], json!(3), "the required decision Max is evaluated first");
    assert_eq!(r["namen"], json!(["ERIKA", "MAX"]));
    assert_eq!(r["volljaehrig"], json!(true));
    assert_eq!(r["summe"], json!(60));
    assert_eq!(r["gefiltert"], json!(["erika"]));
    assert_eq!(r["text"], json!("Gewerbe 2"));
    assert_eq!(r["enthalten"], json!(true));
    assert_eq!(r["sortiert"], json!([1, 2, 3]));
}
