"""The main job: the exchange API, its dashboard and a live simulated market, composed in one process."""
