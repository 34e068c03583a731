"""The Gradio studio's machinery: the page in ``app.py`` is layout and wiring over these modules.

* :mod:`.server`: the configuration from the environment, launching, the cache folder's life;
* :mod:`.cache`: the one folder the server writes to, swept by age;
* :mod:`.uploads`: only files uploaded to this server reach the package;
* :mod:`.run`: running a job in a worker thread, streamed, stoppable, one at a time.
"""
