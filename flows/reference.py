"""Reference data shared by the generator, the transform and the warehouse.

Kept in code (not in the warehouse) because the transform must enrich and validate a day
without a database round trip, and the migrations seed the same values.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Final

# Channel name -> (channel_key, fee_percent). Keys are stable: they are the dim_channel keys.
CHANNELS: Final[dict[str, tuple[int, Decimal]]] = {
    "Credit Card": (1, Decimal("2.00")),
    "Debit Card": (2, Decimal("1.00")),
    "UPI": (3, Decimal("0.50")),
    "Net Banking": (4, Decimal("1.50")),
}

STATUSES: Final[tuple[str, ...]] = ("SUCCESS", "FAILED")

SEGMENTS: Final[tuple[str, ...]] = ("Retail", "SME", "Corporate", "Premium")

# processing_delay_bucket thresholds in seconds: fast < 2.0 <= medium < 5.0 <= slow
FAST_BELOW_S: Final[float] = 2.0
SLOW_FROM_S: Final[float] = 5.0

# Region of every Indian state and union territory that the reference cities use.
STATE_REGION: Final[dict[str, str]] = {
    "Delhi": "North",
    "Haryana": "North",
    "Punjab": "North",
    "Uttar Pradesh": "North",
    "Rajasthan": "North",
    "Jammu and Kashmir": "North",
    "Himachal Pradesh": "North",
    "Uttarakhand": "North",
    "Chandigarh": "North",
    "Maharashtra": "West",
    "Gujarat": "West",
    "Goa": "West",
    "Karnataka": "South",
    "Tamil Nadu": "South",
    "Telangana": "South",
    "Kerala": "South",
    "Andhra Pradesh": "South",
    "Puducherry": "South",
    "West Bengal": "East",
    "Odisha": "East",
    "Bihar": "East",
    "Jharkhand": "East",
    "Assam": "Northeast",
    "Meghalaya": "Northeast",
    "Manipur": "Northeast",
    "Tripura": "Northeast",
    "Madhya Pradesh": "Central",
    "Chhattisgarh": "Central",
}
UNKNOWN_REGION: Final[str] = "Unknown"

# (city, state, relative weight ~ population in millions): the generator draws cities by weight.
CITIES: Final[tuple[tuple[str, str, float], ...]] = (
    ("Mumbai", "Maharashtra", 20.7),
    ("Pune", "Maharashtra", 7.4),
    ("Nagpur", "Maharashtra", 2.9),
    ("Nashik", "Maharashtra", 2.1),
    ("Aurangabad", "Maharashtra", 1.4),
    ("Delhi", "Delhi", 32.9),
    ("Gurugram", "Haryana", 1.5),
    ("Faridabad", "Haryana", 1.9),
    ("Chandigarh", "Chandigarh", 1.2),
    ("Ludhiana", "Punjab", 1.8),
    ("Amritsar", "Punjab", 1.3),
    ("Jaipur", "Rajasthan", 4.1),
    ("Jodhpur", "Rajasthan", 1.5),
    ("Udaipur", "Rajasthan", 0.6),
    ("Lucknow", "Uttar Pradesh", 3.9),
    ("Kanpur", "Uttar Pradesh", 3.2),
    ("Noida", "Uttar Pradesh", 0.9),
    ("Varanasi", "Uttar Pradesh", 1.6),
    ("Agra", "Uttar Pradesh", 1.8),
    ("Dehradun", "Uttarakhand", 0.8),
    ("Shimla", "Himachal Pradesh", 0.2),
    ("Srinagar", "Jammu and Kashmir", 1.6),
    ("Ahmedabad", "Gujarat", 8.5),
    ("Surat", "Gujarat", 7.8),
    ("Vadodara", "Gujarat", 2.3),
    ("Rajkot", "Gujarat", 2.0),
    ("Panaji", "Goa", 0.1),
    ("Bengaluru", "Karnataka", 13.6),
    ("Mysuru", "Karnataka", 1.2),
    ("Mangaluru", "Karnataka", 0.7),
    ("Chennai", "Tamil Nadu", 11.8),
    ("Coimbatore", "Tamil Nadu", 2.9),
    ("Madurai", "Tamil Nadu", 1.6),
    ("Hyderabad", "Telangana", 10.8),
    ("Warangal", "Telangana", 0.9),
    ("Kochi", "Kerala", 2.3),
    ("Thiruvananthapuram", "Kerala", 1.8),
    ("Kozhikode", "Kerala", 2.1),
    ("Visakhapatnam", "Andhra Pradesh", 2.3),
    ("Vijayawada", "Andhra Pradesh", 1.8),
    ("Puducherry", "Puducherry", 1.0),
    ("Kolkata", "West Bengal", 15.3),
    ("Howrah", "West Bengal", 1.1),
    ("Siliguri", "West Bengal", 1.0),
    ("Bhubaneswar", "Odisha", 1.2),
    ("Cuttack", "Odisha", 0.7),
    ("Patna", "Bihar", 2.6),
    ("Ranchi", "Jharkhand", 1.6),
    ("Jamshedpur", "Jharkhand", 1.5),
    ("Guwahati", "Assam", 1.2),
    ("Shillong", "Meghalaya", 0.4),
    ("Imphal", "Manipur", 0.3),
    ("Agartala", "Tripura", 0.5),
    ("Indore", "Madhya Pradesh", 3.3),
    ("Bhopal", "Madhya Pradesh", 2.5),
    ("Gwalior", "Madhya Pradesh", 1.2),
    ("Jabalpur", "Madhya Pradesh", 1.4),
    ("Raipur", "Chhattisgarh", 1.4),
)


def region_of(state: str) -> str:
    """Region for a state; unknown states land in 'Unknown' rather than being rejected."""
    return STATE_REGION.get(state, UNKNOWN_REGION)
