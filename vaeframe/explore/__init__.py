"""``vaeframe explore``: a local web page over a trained run's latent space.

- ``session``: what the page asks of the run (dimensions, map, grids, codes), as plain data;
- ``server``: the standard library's HTTP server answering the page and its JSON API;
- ``command``: loading the run and serving until Ctrl-C;
- ``static/``: the page itself (HTML, CSS, JavaScript; nothing fetched from the internet).
"""
