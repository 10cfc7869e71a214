"""The JSON REST API: Polyaxon v1's resources and JSON names, served by Flask.

``polyaxon_core.api.app.create_app`` is the application factory (``polyaxon server`` and
``gunicorn 'polyaxon_core.api.app:create_app()'`` both use it). Each init step lives in
its own module; each resource (projects, runs, users) is a package with its routes and
schemas; ``errors`` maps every failure to JSON in one place and ``security`` holds who
may call which endpoint, as data. ``docs/api-contract.md`` is the contract.

Importing this package imports nothing heavy: Flask is loaded by the modules that use it.
"""
