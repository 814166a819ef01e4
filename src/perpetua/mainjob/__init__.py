"""The main job: the API server, the dashboard and a live simulated market in one process.

``perpetua up`` calls ``run.up``. This package composes the layers below it (api, web, sim) that do
not know each other: the simulated participants submit through the API's serial exchange, the
oracle moves by signed ticks from the development signers along the recorded candle path, funding
runs on its (compressed) cadence, and the dashboard's demo account is signed for by the server.
"""
