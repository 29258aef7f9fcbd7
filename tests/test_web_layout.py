"""The web layer is split by feature: every route belongs to exactly one
feature module, which defines the view it routes to, and no template reads
the database through a Jinja global."""
import importlib
import pkgutil

import jinja2

import app.web
from app.factory import FEATURES, create_app
from app.web.templating import environment

SHARED = {'app.web.base', 'app.web.templating', 'app.web.forms'}


def test_every_route_is_owned_by_exactly_one_feature_module(settings):
    owners = {}
    for feature in FEATURES:
        for method, rule, callback, _roles, _options in feature.ROUTES:
            owners.setdefault((method, rule), []).append(feature.__name__)
    assert {key: names for key, names in owners.items() if len(names) > 1} == {}
    served = {(route.method, route.rule) for route in create_app(settings).routes
              if not route.rule.startswith('/static/')}
    assert served == set(owners)


def test_a_feature_module_routes_only_to_its_own_views():
    for feature in FEATURES:
        strangers = [rule for _method, rule, callback, _roles, _options in feature.ROUTES
                     if callback.__module__ != feature.__name__]
        assert strangers == [], feature.__name__


def test_every_web_module_with_routes_is_a_listed_feature():
    listed = {feature.__name__ for feature in FEATURES}
    for info in pkgutil.iter_modules(app.web.__path__, 'app.web.'):
        module = importlib.import_module(info.name)
        if hasattr(module, 'ROUTES'):
            assert info.name in listed
        else:
            assert info.name not in listed
    assert not SHARED & listed


def test_templates_get_no_globals_beyond_jinjas_own():
    assert set(environment.globals) <= set(jinja2.Environment().globals)
