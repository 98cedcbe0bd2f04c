"""SpiffWorkflow on the reference process: instances per second, in memory and durable
(each finished instance serialised and committed to SQLite in WAL mode with
synchronous=NORMAL, the settings rathaus uses). Run through bench/compare.sh."""
import json, os, sqlite3, sys, tempfile, time

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.camunda.parser import CamundaParser
from SpiffWorkflow.camunda.serializer import DEFAULT_CONFIG
from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.util.task import TaskState

HERE = os.path.dirname(os.path.abspath(__file__))
N = int(sys.argv[1]) if len(sys.argv) > 1 else 1000

parser = CamundaParser()
parser.add_bpmn_file(os.path.join(HERE, "spiff_model.bpmn"))
parser.add_dmn_file(os.path.join(HERE, "spiff_model.dmn"))
spec = parser.get_spec("benchmark")
serializer = BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(DEFAULT_CONFIG))


def save(db, wf, row):
    """Persists the workflow state at a wait state or the end: one durable commit."""
    if db is None:
        return row
    state = serializer.serialize_json(wf)
    if row is None:
        row = db.execute("INSERT INTO instances (state) VALUES (?)", (state,)).lastrowid
    else:
        db.execute("UPDATE instances SET state = ? WHERE id = ?", (state, row))
    db.commit()
    return row


def run(i, review, db):
    wf = BpmnWorkflow(spec)
    start = wf.get_tasks(state=TaskState.READY)[0]
    start.data.update({"kategorie": "abcd"[i % 4], "betrag": i % 200, "pruefen": review})
    wf.do_engine_steps()
    row = None
    if review:
        # The instance waits for a person: persisted like rathaus persists it.
        row = save(db, wf, row)
        for t in wf.get_tasks(state=TaskState.READY, manual=True):
            t.data["entscheidung"] = {"ergebnis": "bestaetigen"}
            t.run()
        wf.do_engine_steps()
    assert wf.is_completed(), "instance did not complete"
    kategorie, betrag = "abcd"[i % 4], i % 200
    expected = (10 if betrag < 100 else 20) if kategorie == "a" else 15 if kategorie in "bc" else 0
    assert wf.last_task.data.get("gebuehr") == expected, (wf.last_task.data, expected)
    save(db, wf, row)
    return wf


def measure(review, db):
    lat = []
    t0 = time.perf_counter()
    for i in range(N):
        t = time.perf_counter()
        run(i, review, db)
        lat.append(time.perf_counter() - t)
    secs = time.perf_counter() - t0
    lat.sort()
    return {"instances_per_second": N / secs, "p50_ms": lat[len(lat) // 2] * 1000, "p99_ms": lat[int(len(lat) * 0.99)] * 1000}


tmp = tempfile.mkdtemp()
db = sqlite3.connect(os.path.join(tmp, "spiff.db"))
db.execute("PRAGMA journal_mode = WAL")
db.execute("PRAGMA synchronous = NORMAL")
db.execute("CREATE TABLE instances (id INTEGER PRIMARY KEY, state TEXT)")
out = {"engine": "SpiffWorkflow", "instances": N, "scenarios": {}}
for name, review in [("start → DMN → gateway → end", False), ("… → user task (completed) → end", True)]:
    out["scenarios"][name] = {"in_memory": measure(review, None), "durable_sqlite": measure(review, db)}
print(json.dumps(out, indent=2, ensure_ascii=False))
