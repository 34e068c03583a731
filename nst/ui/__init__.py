"""The Gradio studio's machinery: the page in ``app.py`` is layout and wiring over these modules.

* :mod:`.controls`: the page as a table of controls, named as in the package;
* :mod:`.page`: the Run and Stop buttons, the method menu, the start-up banner, the examples;
* :mod:`.api`: one endpoint per method, and ``/stop``;
* :mod:`.runner`: prepared requests in line, in a worker thread, streamed, stoppable;
* :mod:`.lifecycle`: the states a run goes through, and what the status line says of each;
* :mod:`.server`: the configuration from the environment, launching, the cache folder's life;
* :mod:`.cache`: the one folder the server writes to, swept by age since last use;
* :mod:`.uploads`: only files uploaded to this server reach the package.
"""
