"""Bad file contents for the command line's bad-input table (``tests/test_cli_checks.py``).

Each case is ``(id, file name, bytes, argv, exit code, text)``: ``{f}`` in ``argv`` is the
file; exit 0 cases are documented results whose stdout holds ``text``, the others must be a
one-line error holding ``text``.
"""

from __future__ import annotations

import gzip

LLM_HEAD = "TIMESTAMP,ContextTokens,GeneratedTokens\n"
F19_HEAD = "HashOwner,HashApp,HashFunction,Trigger," + ",".join(map(str, range(1, 1441))) + "\n"


def f19_row(name: str, first: str) -> str:
    """A 2019 row with ``first`` invocations in minute 1 and none in the others."""
    return f"o,a,{name},http,{first}" + ",0" * 1439 + "\n"

TSV_HEAD = ("ModelName\tBS\t#Microbatch\tDP\tOP\tPP\t#GPU\tMeanTime(s)\tStdTime(s)\tTFLOPs\t"
            "StageWeights(B)\tStagePeakMem(B)\tStageLatencies(s)\n")
TSV_ROW = "m0\t1\t1\t1\t1\t2\t2\t0.1\t0.0\t1.0\t[1, 1]\t[2, 2]\t[0.05, 0.05]\n"

# (id, file name, bytes, argv after the file (``{f}`` is the file), exit code, text):
# exit 0 cases are documented results and must print their text on stdout.
CONTENT_CASES: list[tuple[str, str, bytes, list[str], int, str]] = [
    ("gzip-without-gz-name", "t.csv", gzip.compress(b"arrival_s,model\n0.5,a\n"),
     ["trace", "{f}"], 0, "csv trace, rows 1"),
    ("gzip-named-gz", "t.csv.gz", gzip.compress(b"arrival_s,model\n0.5,a\n"),
     ["trace", "{f}", "--format", "csv"], 0, "rows 1"),
    ("truncated-gzip", "t.csv.gz", gzip.compress(b"arrival_s,model\n" + b"0.5,a\n" * 5000)[:60],
     ["trace", "{f}"], 2, "cannot read"),
    ("binary", "t.csv", bytes(range(256)) * 4, ["trace", "{f}"], 2, "a binary file"),
    ("binary-high-bytes", "t.csv", bytes(range(128, 256)) * 4, ["trace", "{f}"], 2,
     "not UTF-8"),
    ("binary-forced-format", "t.csv", b"arrival_s,model\n\xff\xfe\x00\x01,a\n",
     ["trace", "{f}", "--format", "csv"], 2, "not UTF-8"),
    ("empty-file", "t.csv", b"", ["trace", "{f}"], 2, "cannot tell the trace format"),
    ("unknown-header", "t.csv", b"when,what\n1,2\n", ["trace", "{f}"], 2, "pass --format"),
    ("bom-generic", "t.csv", b"\xef\xbb\xbfarrival_s,model\n0.5,a\n1.0,b\n", ["trace", "{f}"],
     0, "rows 2"),
    ("bom-llm", "t.csv", ("\ufeff" + LLM_HEAD + "2023-11-16 18:15:46.5,10,2\n").encode(),
     ["trace", "{f}"], 0, "azure-llm trace, rows 1"),
    ("timestamp-1e308", "t.csv", b"arrival_s,model\n1e308,a\n", ["trace", "{f}"], 2,
     "'1e308' is out of range"),
    ("timestamp-inf", "t.csv", b"arrival_s,model\ninf,a\n", ["trace", "{f}"], 2, "not finite"),
    ("timestamp-nan", "t.csv", b"arrival_s,model\nnan,a\n", ["trace", "{f}"], 2, "not finite"),
    ("arrival-text", "t.csv", b"arrival_s,model\nsoon,a\n", ["trace", "{f}"], 2,
     "not a number: 'soon'"),
    ("empty-model", "t.csv", b"arrival_s,model\n1.0,\n", ["trace", "{f}"], 2,
     "empty model name"),
    ("short-row", "t.csv", b"arrival_s,model\n1.0\n", ["trace", "{f}"], 2, "missing column"),
    ("long-row", "t.csv", b"arrival_s,model\n1.0,a,b\n", ["trace", "{f}"], 2, "3 fields"),
    ("huge-field", "t.csv", b"arrival_s,model\n1.0,\"" + b"a" * 200_000 + b"\"\n",
     ["trace", "{f}"], 2, "malformed CSV"),
    # csv semantics: an unclosed quote runs to the end of the file (model "a\n")
    ("unclosed-quote", "t.csv", b"arrival_s,model\n1.0,\"a\n", ["trace", "{f}", "--format", "csv"],
     0, "rows 1"),
    ("year-9999", "t.csv", (LLM_HEAD + "9999-01-01 00:00:00,1,1\n").encode(), ["trace", "{f}"],
     2, "year 9999 is out of range"),
    ("year-0001", "t.csv", (LLM_HEAD + "0001-01-01 00:00:00,1,1\n").encode(), ["trace", "{f}"],
     2, "year 1 is out of range"),
    ("month-13", "t.csv", (LLM_HEAD + "2023-13-01 00:00:00,1,1\n").encode(), ["trace", "{f}"],
     2, "TIMESTAMP"),
    ("token-23-digits", "t.csv",
     (LLM_HEAD + "2023-11-16 18:15:46,12345678901234567890123,1\n").encode(),
     ["trace", "{f}"], 2, "exceeds the limit of 10000000"),
    ("token-23-digits-skipped", "t.csv",
     (LLM_HEAD + "2023-11-16 18:15:46,12345678901234567890123,1\n"
      "2023-11-16 18:15:47,5,1\n").encode(),
     ["trace", "{f}", "--skip-bad-rows"], 0, "rows 2, rows_skipped 1"),
    ("token-negative", "t.csv", (LLM_HEAD + "2023-11-16 18:15:46,-5,1\n").encode(),
     ["trace", "{f}"], 2, "negative count"),
    ("token-float", "t.csv", (LLM_HEAD + "2023-11-16 18:15:46,5.5,1\n").encode(),
     ["trace", "{f}"], 2, "not a whole number"),
    ("f2019-1e12-per-minute", "d.csv", (F19_HEAD + f19_row("f", "1000000000000")).encode(),
     ["trace", "{f}"], 2, "exceeds the limit of 100000000"),
    ("f2019-total-over-limit", "d.csv",
     (F19_HEAD + "".join(f19_row(f"f{i}", "99999999") for i in range(3))).encode(),
     ["trace", "{f}"], 2, "more than 50000000 invocations"),
    ("f2019-1e12-skipped", "d.csv",
     (F19_HEAD + f19_row("f", "1000000000000") + f19_row("g", "2")).encode(),
     ["trace", "{f}", "--skip-bad-rows"], 0, "rows 2, rows_skipped 1"),
    ("f2019-23-digits", "d.csv", (F19_HEAD + f19_row("f", "12345678901234567890123")).encode(),
     ["trace", "{f}"], 2, "column '1'"),
    ("f2021-huge-time", "t.csv", b"app,func,end_timestamp,duration\na,f,1e300,0\n",
     ["trace", "{f}"], 2, "end_timestamp"),
    ("f2021-negative-duration", "t.csv", b"app,func,end_timestamp,duration\na,f,5,-1\n",
     ["trace", "{f}"], 2, "negative value"),
    ("saved-not-npz", "t.npz", b"not a zip", ["trace", "{f}"], 2, "t.npz"),
    ("placement-not-json", "p.json", b"{nope", ["simulate", "{f}"], 2, "p.json"),
    ("placement-binary", "p.json", b"\xff\xfe\xfd", ["simulate", "{f}"], 2, "not UTF-8"),
    ("placement-empty-object", "p.json", b"{}", ["simulate", "{f}"], 2, ""),
    ("registry-not-yaml", "r.yaml", b"a: [\n", ["modelless", "--registry", "{f}"], 2, ""),
    ("availability-bad-event", "a.csv", b"0,add,n1\n5,explode,n1\n",
     ["spot", "--trace", "{f}"], 2, "line 2"),
    ("availability-negative", "a.csv", b"-5,add,n1\n", ["spot", "--trace", "{f}"], 2, "t_ms"),
    ("availability-huge", "a.csv", b"1e300,add,n1\n", ["spot", "--trace", "{f}"], 2,
     "out of range"),
    ("availability-binary", "a.csv", b"\x00\xff" * 50, ["spot", "--trace", "{f}"], 2,
     "not UTF-8"),
    ("availability-json-deep", "a.jsonl", b"[" * 100_000 + b"\n", ["spot", "--trace", "{f}"], 2,
     "line 1"),
    ("availability-json-type", "a.jsonl", b'[0, "add", {"nodes": [{"name": "a", "type": []}]}]\n',
     ["spot", "--trace", "{f}"], 2, "unknown node type"),
    ("config-bad-json", "c.json", b"{", ["plan", "--config", "{f}"], 2, "is malformed"),
    ("config-bad-yaml", "c.yaml", b"a: [\n", ["plan", "--config", "{f}"], 2, "is malformed"),
    ("config-nan-zipf", "c.yaml", b"zipf: .nan\n", ["plan", "--config", "{f}"], 2, "zipf"),
    ("config-unknown-key", "c.yaml", b"zipff: 1\n", ["plan", "--config", "{f}"], 2,
     "unknown keys"),
    ("config-binary", "c.json", b"\xff\xfe", ["plan", "--config", "{f}"], 2, "c.json"),
]

TSV_CASES = [
    ("tsv-short-row", TSV_HEAD + "m0\t1\n", "line 2"),
    ("tsv-bad-number", TSV_HEAD + TSV_ROW.replace("\t0.0\t", "\tslow\t"), "StdTime(s)"),
    ("tsv-nan", TSV_HEAD + TSV_ROW.replace("\t0.0\t", "\tnan\t"), "not finite"),
    ("tsv-bad-list", TSV_HEAD + TSV_ROW.replace("[0.05, 0.05]", "[0.05,"), "not a list"),
    ("tsv-text-in-list", TSV_HEAD + TSV_ROW.replace("[0.05, 0.05]", "['a', 'b']"), "line 2"),
    ("tsv-nested-list", TSV_HEAD + TSV_ROW.replace("[1, 1]", "[[1], [1]]"), "line 2"),
    ("tsv-deep-list", TSV_HEAD + TSV_ROW.replace("[1, 1]", "[" * 5000 + "]" * 5000), "line 2"),
    ("tsv-unknown-model", TSV_HEAD + TSV_ROW.replace("m0", "zz", 1), "no spec"),
    ("tsv-bad-header", "a\tb\n", "header must be"),
    ("tsv-dp2", TSV_HEAD + TSV_ROW.replace("\t1\t1\t1\t2\t2\t", "\t1\t2\t1\t2\t4\t"), "DP=2"),
    ("tsv-float-bs", TSV_HEAD + TSV_ROW.replace("m0\t1\t", "m0\t1.5\t"), "not an integer"),
    ("tsv-bad-gpus", TSV_HEAD + TSV_ROW.replace("\t2\t2\t0.1", "\t2\t3\t0.1"), "#GPU"),
    ("profiles-json-bad", "{", "db.json"),
    ("profiles-json-wrong", '{"format_version": 1, "entries": [{"model": 3}]}', "db.json"),
]
