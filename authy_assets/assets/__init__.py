"""The asset chain: user id list, raw API responses, validated phone table, Parquet export."""

from authy_assets.assets.export import authy_phone_export
from authy_assets.assets.fetch import authy_raw_responses
from authy_assets.assets.phone_numbers import authy_phone_numbers
from authy_assets.assets.user_ids import authy_user_ids

GROUP_NAME = "authy_export"

__all__ = ["authy_phone_export", "authy_phone_numbers", "authy_raw_responses", "authy_user_ids"]
