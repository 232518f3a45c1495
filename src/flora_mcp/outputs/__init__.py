"""What a run made, made visible: previews, saved files, output resources and the run viewer.

- fetch.py: a bounded, SSRF-safe fetch of one output URL
- previews.py: image previews and video contact sheets as MCP image blocks (Pillow, PyAV)
- saving.py: outputs saved once, atomically, in FLORA_OUTPUT_DIR
- index.py: which runs are whose (the RunIndex interface, backed by the state store's journal)
- service.py: OutputService, what every run answer adds for its outputs
- answer.py: run_answer, the one call a run-reading tool makes to build its result
- resources.py: flora://runs/{run_id}/outputs/{output_id} for resources/read and resources/list
- viewer.py (+ viewer.html): the run viewer MCP App

These modules use the server's result shapes and state, and the server wires them in, so
the server package is imported first: whichever side a program imports first, each module
then finds the other's names complete.
"""

import flora_mcp.server  # noqa: F401  (see above)
