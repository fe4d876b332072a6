"""gunicorn settings for the bench's nova-api: a file per worker in
$BENCH_READY_DIR once that worker has loaded nova's application, so the
bench starts measuring only when every worker serves (nova takes seconds to
import on a busy machine)."""
import os


def post_worker_init(worker):
    ready = os.environ.get('BENCH_READY_DIR')
    if ready:
        open(os.path.join(ready, str(worker.pid)), 'w').close()
