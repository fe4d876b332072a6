"""A paste filter that stands in for keystonemiddleware's `authtoken` in the
bench's nova-api: no token is validated; the caller named by the token is
taken at its word, with the roles the filter is configured with.

nova 34's api-paste.ini has only the keystone pipeline (nova 32 removed
noauth2), and its default policy wants the `service` role for
`os-server-external-events`. This filter sets the identity headers that
`authtoken` sets after validating a token, so nova's own `keystonecontext`
filter builds the RequestContext exactly as in a Keystone deployment.
The token reads as noauth2 read it: `user:project` (no `:`: the project
is the user). Loopback benchmarks only: it trusts every caller.
"""

# What authtoken removes from every request before it sets its own.
_IDENTITY = ('HTTP_X_IDENTITY_STATUS', 'HTTP_X_DOMAIN_', 'HTTP_X_PROJECT_',
             'HTTP_X_USER', 'HTTP_X_TENANT', 'HTTP_X_ROLES', 'HTTP_X_SERVICE_',
             'HTTP_X_IS_ADMIN_PROJECT', 'HTTP_X_SYSTEM_SCOPE')


def filter_factory(global_conf, roles='admin,service', **local_conf):
    def wrap(app):
        def middleware(environ, start_response):
            for key in [k for k in environ if k.startswith(_IDENTITY)]:
                del environ[key]
            token = environ.get('HTTP_X_AUTH_TOKEN', '')
            if not token:
                start_response('401 Unauthorized', [('Content-Type', 'text/plain')])
                return [b'no X-Auth-Token\n']
            user, _, project = token.partition(':')
            project = project or user
            environ.update({
                'HTTP_X_IDENTITY_STATUS': 'Confirmed',
                'HTTP_X_USER_ID': user,
                'HTTP_X_USER_NAME': user,
                'HTTP_X_USER_DOMAIN_ID': 'default',
                'HTTP_X_PROJECT_ID': project,
                'HTTP_X_PROJECT_NAME': project,
                'HTTP_X_PROJECT_DOMAIN_ID': 'default',
                'HTTP_X_ROLES': roles,
            })
            return app(environ, start_response)
        return middleware
    return wrap
