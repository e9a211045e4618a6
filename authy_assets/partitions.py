"""The batch partitions: one dynamic partition per batch of users."""

import dagster as dg

BATCHES_PARTITION_NAME = "authy_batches"

batches_partitions = dg.DynamicPartitionsDefinition(name=BATCHES_PARTITION_NAME)
