"""What a run made, made visible: previews, saved files, output resources and the run viewer.

- fetch.py: a bounded, SSRF-safe fetch of one output URL
- previews.py: image previews and video contact sheets as MCP image blocks (Pillow, PyAV)
- saving.py: outputs saved once, atomically, in FLORA_OUTPUT_DIR
- index.py: which runs are whose (the RunIndex interface and its in-process implementation)
- service.py: OutputService, what every run answer adds for its outputs
- answer.py: run_answer, the one call a run-reading tool makes to build its result
- resources.py: flora://runs/{run_id}/outputs/{output_id} for resources/read and resources/list
- viewer.py (+ viewer.html): the run viewer MCP App

Importing this package imports none of them, so results.py can use saving.SavedFile freely.
"""
