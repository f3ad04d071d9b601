"""What several pipeline domains share: asset keys, partitions and the COPY helpers.

Domains depend on this package, never on each other's asset or loading modules.
"""
