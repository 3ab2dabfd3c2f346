"""Package data (``builder.templates``): the catalog templates, theme, pages and default mkdocs.yml."""
