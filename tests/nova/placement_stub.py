"""A placement API stub, just enough for a real nova-conductor and nova-compute
to start (they refuse to without a placement endpoint). Not placement: it
lists versions, answers every GET of resource providers with none, and
refuses every write with 503 (nova-compute logs that and carries on).

  placement_stub.py   binds 127.0.0.1 on a free port, prints {"port": N}
                      on stdout, then serves until killed.
"""
import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MICROVERSION = '1.39'
VERSIONS = {'versions': [{'id': 'v1.0', 'min_version': '1.0', 'max_version': MICROVERSION,
                          'status': 'CURRENT', 'links': [{'rel': 'self', 'href': ''}]}]}


class Stub(BaseHTTPRequestHandler):
    def answer(self, code, body):
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header('Content-Type', 'application/json')
        self.send_header('Content-Length', str(len(data)))
        self.send_header('OpenStack-API-Version', 'placement ' + MICROVERSION)
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        path = self.path.split('?', 1)[0].rstrip('/')
        if path == '':
            return self.answer(200, VERSIONS)
        if path == '/resource_providers':
            return self.answer(200, {'resource_providers': []})
        return self.answer(404, {'errors': [{'status': 404, 'title': 'Not Found',
                                             'detail': 'placement stub'}]})

    def refuse(self):
        length = int(self.headers.get('Content-Length') or 0)
        self.rfile.read(length)
        self.answer(503, {'errors': [{'status': 503, 'title': 'placement stub',
                                      'detail': 'the stub takes no writes'}]})

    do_POST = do_PUT = do_DELETE = do_PATCH = refuse

    def log_message(self, *args):
        pass


def main():
    server = ThreadingHTTPServer(('127.0.0.1', 0), Stub)
    print(json.dumps({'port': server.server_address[1]}), flush=True)
    server.serve_forever()


if __name__ == '__main__':
    sys.exit(main())
