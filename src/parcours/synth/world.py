"""The fictitious retailer: vocabulary, channels, touchpoints, campaigns, catalogue, rhythms."""

from __future__ import annotations

import numpy as np

EVENTS = (
    "ad_impression", "ad_click", "social_view", "search",
    "page_view", "product_view", "review_read", "newsletter_signup", "email_open", "email_click", "compare",
    "add_to_cart", "checkout_start", "account_created", "payment", "purchase",
    "order_delivered", "delivery_problem", "support_contact", "complaint", "refund", "cancellation", "app_open",
    "loyalty_points", "repeat_purchase", "survey_answer",
    "review_posted", "referral_sent", "referral_signup", "social_share",
)
STAGES = ("awareness", "consideration", "purchase", "retention", "advocacy")
STAGE_EVENTS = {
    "awareness": EVENTS[0:4],
    "consideration": EVENTS[4:11],
    "purchase": EVENTS[11:16],
    "retention": EVENTS[16:26],
    "advocacy": EVENTS[26:30],
}
STAGE_OF = {e: s for s, evs in STAGE_EVENTS.items() for e in evs}
EV = {e: i for i, e in enumerate(EVENTS)}

CHANNELS = ("search", "social", "email", "web", "app", "store", "phone", "chat")
CH = {c: i for i, c in enumerate(CHANNELS)}

#: acquisition channel (first contact) and its share; identical conversion rates for all
ACQ = ("search", "social", "web", "email", "store", "phone")
ACQ_P = np.array([0.32, 0.27, 0.18, 0.08, 0.10, 0.05])
ACQ_CODES = np.array([CH[c] for c in ACQ], dtype=np.int16)

PROFILES = ("price_sensitive", "quality_seeker", "convenience", "eco")
PROFILE_P = np.array([0.35, 0.25, 0.25, 0.15])
SEGMENTS = ("b2c", "b2b")
COUNTRIES = ("FR", "BE", "CH", "LU", "CA")
COUNTRY_P = np.array([0.86, 0.06, 0.04, 0.02, 0.02])
AGE_BANDS = ("18-24", "25-34", "35-49", "50-64", "65+")
AGE_P = np.array([0.13, 0.24, 0.30, 0.21, 0.12])
GENDERS = ("f", "m", "x")
GENDER_P = np.array([0.51, 0.47, 0.02])
CITY_SIZES = ("rural", "small_town", "medium_city", "large_city", "paris_area")
CITY_P = np.array([0.2, 0.2, 0.22, 0.22, 0.16])
DEVICES = ("mobile", "desktop", "tablet")

SEASONS = ("winter_sales", "spring", "summer_sales", "back_to_school", "autumn", "black_friday", "christmas")
SEASON_OF_MONTH = np.array([0, 0, 1, 1, 1, 2, 2, 3, 3, 4, 5, 6])
#: relative traffic per month (Jan sales, summer dip in August, Black Friday and Christmas peaks)
MONTH_WEIGHT = np.array([1.1, 0.85, 0.9, 0.95, 0.95, 1.0, 1.0, 0.8, 0.95, 1.0, 1.35, 1.4])
#: Monday .. Sunday
WEEKDAY_WEIGHT = np.array([1.0, 1.0, 1.0, 1.02, 1.05, 0.95, 0.8])
#: local (Paris) hour of day
HOUR_WEIGHT = np.array([0.4, 0.2, 0.1, 0.1, 0.1, 0.2, 0.5, 1.0, 1.6, 2.0, 2.2, 2.4, 3.0, 3.0, 2.4, 2.2,
                        2.2, 2.4, 2.8, 3.4, 3.8, 3.6, 2.6, 1.2])
HOUR_P = HOUR_WEIGHT / HOUR_WEIGHT.sum()

CAMPAIGN_PREFIX = {"search": "sea", "social": "social", "email": "newsletter", "phone": "b2b_outbound",
                   "store": "store_flyer"}
SPEND_CHANNELS = ("search", "social", "email", "phone", "store")
CAMPAIGNS = tuple(f"{CAMPAIGN_PREFIX[c]}_{s}" for c in SPEND_CHANNELS for s in SEASONS)
#: fixed daily cost and cost per new prospect, per spend channel (EUR)
SPEND_FIXED = {"search": 180.0, "social": 140.0, "email": 25.0, "phone": 260.0, "store": 60.0}
SPEND_PER_PROSPECT = {"search": 6.5, "social": 4.0, "email": 1.2, "phone": 45.0, "store": 3.0}

STORES = ("store_paris_11", "store_lyon_2", "store_lille", "store_bordeaux", "store_marseille",
          "store_nantes", "store_toulouse")
SOCIAL_TP = ("instagram", "facebook", "tiktok")
EXTRA_STEPS = ("billing_details", "delivery_slot", "gift_options", "purchase_order_ref", "vat_details",
               "invoice_address")
CHECKOUT_STEPS = ("cart", "checkout", "shipping_options", "account_form", "payment_page", "confirmation")

TOUCHPOINTS = tuple(dict.fromkeys((
    "home", "category_page", "search_results", "promo_page", "landing_page", "product_page", "reviews",
    "comparator", "newsletter_popup", "size_guide", "insurance_offer", "account_login",
    *CHECKOUT_STEPS, *EXTRA_STEPS,
    "delivery", "delivery_tracking", "order_tracking", "call_center", "chat_widget", "support_email",
    "complaint_form", "refunds", "nps_survey", "complaint_followup", "cancellation_followup", "support_followup",
    "loyalty", "app_home", "review_form", "referral_page", "google", *SOCIAL_TP, *STORES, *CAMPAIGNS,
)))
TP = {t: i for i, t in enumerate(TOUCHPOINTS)}


def tp_code(name: str) -> int:
    """Code of a touchpoint, adding it when a friction names a new one."""
    global TOUCHPOINTS
    if name not in TP:
        TP[name] = len(TOUCHPOINTS)
        TOUCHPOINTS = TOUCHPOINTS + (name,)
    return TP[name]


MATTERS = ("delivery", "malfunction", "cancellation", "price")
TIERS = ("member", "bronze", "silver", "gold")

CATEGORIES = ("maison", "cuisine", "jardin", "high_tech", "mode", "sport", "beaute", "jouets", "bricolage", "librairie")
CATEGORY_PRICE = np.array([45, 35, 60, 180, 40, 55, 25, 30, 50, 18], dtype=float)
#: categories each profile leans to (mild differences, documented)
PROFILE_CATEGORY_P = np.array([
    [0.1, 0.12, 0.08, 0.1, 0.14, 0.1, 0.1, 0.12, 0.08, 0.06],
    [0.12, 0.12, 0.08, 0.16, 0.1, 0.1, 0.1, 0.06, 0.08, 0.08],
    [0.1, 0.12, 0.08, 0.12, 0.12, 0.1, 0.12, 0.1, 0.08, 0.06],
    [0.12, 0.1, 0.16, 0.06, 0.1, 0.12, 0.12, 0.06, 0.08, 0.08],
])
N_PRODUCTS = 200


class Catalogue:
    def __init__(self, seed: int):
        rng = np.random.default_rng([seed, 7_000_001])
        self.category = np.repeat(np.arange(len(CATEGORIES)), N_PRODUCTS // len(CATEGORIES))
        raw = CATEGORY_PRICE[self.category] * rng.lognormal(0.0, 0.45, N_PRODUCTS)
        self.price = np.round(np.maximum(raw, 4.0)) - 0.01
        self.ids = [f"P{i + 1:04d}" for i in range(N_PRODUCTS)]
        self.by_category = [np.nonzero(self.category == c)[0] for c in range(len(CATEGORIES))]

    def pick(self, rng, categories: np.ndarray) -> np.ndarray:
        per = N_PRODUCTS // len(CATEGORIES)
        return categories * per + rng.integers(0, per, len(categories))
