"""What a run made, made visible: previews, saved files, output resources and the run viewer.

- fetch.py: a bounded, SSRF-safe fetch of one output URL
- previews.py: image previews and video contact sheets as MCP image blocks (Pillow, PyAV)
- saving.py: outputs saved once, atomically, in FLORA_OUTPUT_DIR
- index.py: which runs are whose (the RunIndex interface, backed by the state store's journal)
- service.py: OutputService, what every run answer adds for its outputs
- blocks.py: outputs as MCP content blocks (resource links, fenced text)
- resources.py: flora://runs/{run_id}/outputs/{output_id} for resources/read and resources/list
- viewer.py (+ viewer.html): the run viewer MCP App

The MCP layer (server/) wires these in and never the other way round: nothing here imports
flora_mcp.server (server/run_answer.py and server/resources.py are the glue).
"""
