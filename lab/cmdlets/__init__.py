"""The cmdlets the lab emulates: their documented contract (binder) and their handlers."""
