"""The MongoDB driver's parts (see panko_like.storage.impl_mongodb)."""
