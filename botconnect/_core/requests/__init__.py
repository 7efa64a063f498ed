"""Request builders: ``build_<operation>`` functions returning :class:`Operation` objects."""
