"""Component hubs: ``hub-folder`` (a folder of component files), ``hub-http`` (an HTTP
index of one) and ``hub-polyaxon`` (the components shipped here, under the public owner
``polyaxon``). See :mod:`polyaxon_core.hub` for references and their resolution."""
