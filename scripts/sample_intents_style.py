"""The shared wording of the `support-intent` tickets: asides, slot values, greetings, sign-offs,
tones, and the paraphrase table that rewords every ticket. People, items and orders are invented;
the carriers are real courier names used generically. Plain data, no randomness; used by
sample_intents.py (the per-intent phrasings are in sample_intents_words.py).
"""

from __future__ import annotations

# a second issue mentioned in passing (labelled by the main ask): the intent it hints at, the text
ASIDES = [
    ("billing_dispute", "Also I think I was charged twice, but that's a separate thing."),
    ("shipping_delay", "On top of that my last order came a week late."),
    ("account_access", "I had to use my partner's login because mine won't work."),
    ("refund_request", "I'll probably want my money back if this can't be sorted."),
    ("product_defect", "Also the last one you sent had a crack in it."),
    ("change_address", "By the way, I have moved since the last order."),
    ("cancel_subscription", "Honestly I'm thinking of cancelling my plan altogether."),
    ("feature_question", "Also, does the newer model charge faster?"),
    ("shipping_delay", "And the replacement still hasn't shipped either."),
    ("billing_dispute", "The invoice total looks off too."),
    ("refund_request", "If it's not fixable I want a refund."),
    ("account_access", "I couldn't even log in to check, the app kept failing."),
]

ITEMS = [
    "blender", "desk lamp", "rain jacket", "coffee grinder", "phone case", "backpack",
    "air fryer", "electric kettle", "yoga mat", "bluetooth speaker", "winter boots",
    "standing desk", "baby monitor", "robot vacuum", "smart watch", "hair dryer",
    "wireless earbuds", "office chair", "cast iron pan", "toaster", "duvet cover",
    "children's bike", "e-reader", "tent", "mechanical keyboard", "water bottle",
    "espresso machine", "suitcase", "garden hose", "ceiling fan", "sofa cushion",
]  # fmt: skip
CARRIERS = ["DHL", "UPS", "Royal Mail", "DPD", "Hermes", "FedEx", "GLS", "Evri", "PostNL"]
PLANS = ["Premium", "Plus", "family", "monthly", "annual", "Basic", "Pro", "student"]
DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "the weekend"]
MONTHS = ["Jan", "Feb", "March", "April", "May", "June", "July", "Aug", "Sept", "Oct", "Nov"]

GREETINGS = [
    "Hi,", "Hello,", "Dear support,", "Hi team,", "Good morning,", "Hello there,", "Hey,",
    "To whom it may concern,", "Dear customer service,", "Hi guys,", "Good afternoon,",
]  # fmt: skip
CLOSINGS = [
    "Thanks.", "Thank you in advance.", "Thanks for your help.", "Looking forward to your reply.",
    "Please get back to me soon.", "Appreciate it.", "Cheers.", "Many thanks.",
    "Hope you can help.", "Thanks in advance for sorting this out.",
]  # fmt: skip
SIGN_OFFS = ["Best regards,", "Kind regards,", "Regards,", "Best,", "Thanks,", "Cheers,", "--"]
FIRST_NAMES = [
    "Anna", "Tom", "Priya", "Marek", "Sofia", "James", "Leila", "Chen", "Olu", "Maria",
    "Daniel", "Aisha", "Pieter", "Grace", "Luis", "Hannah", "Kofi", "Ines", "Sam", "Noor",
]  # fmt: skip
LAST_INITIALS = ["B.", "K.", "M.", "R.", "S.", "T.", "W.", ""]
ANGRY = [
    "This is ridiculous.", "Absolutely unacceptable.", "I am really fed up.",
    "Third time I'm writing about this!!", "Worst experience I've had with an online shop.",
    "Sort it out.", "I want this fixed TODAY.", "Seriously??", "I'm losing my patience here.",
]  # fmt: skip
POLITE = [
    "Sorry to bother you.", "I hope you're well.", "I appreciate you looking into this.",
    "No rush, but I'd be grateful for an update.", "Thanks for your patience with me.",
    "I know you must be busy.",
]  # fmt: skip
ITEM_MODIFIERS = [
    "", "", "", "new", "black", "white", "large", "small", "grey", "blue", "red", "green",
    "two-pack", "XL", "cordless", "kids'", "refurbished", "stainless", "compact", "deluxe",
    "limited edition", "second", "replacement", "pink", "folding", "travel", "oak", "pro",
]  # fmt: skip
LAST_NAMES = [
    "Novak", "Okafor", "Haddad", "Lindqvist", "Moreau", "Patel", "O'Brien", "Kowalski",
    "Tanaka", "Silva", "Jansen", "Fischer", "Nguyen", "Rossi", "Dubois", "Mensah", "Ali",
    "Costa", "Berg", "Evans", "Horvat", "Ivanova", "Keller", "Larsen", "Murphy", "Quinn",
]  # fmt: skip
CHAT_PREFIXES = ["hi", "hello", "hey", "yo", "quick q", "hiya", "help", "urgent"]

# phrase -> other ways to say it: applied to every ticket at random, so an ask is rarely written
# the same way twice (whole words, case-insensitive; the first letter's case is kept)
PARAPHRASES = {
    "says": ["says", "shows", "claims", "states"],
    "came": ["arrived", "came", "turned up"],
    "sent": ["sent", "posted", "mailed", "shipped"],
    "ordered": ["ordered", "bought", "purchased"],
    "received": ["got", "received"],
    "tried": ["tried", "attempted"],
    "want": ["want", "need", "would like"],
    "get": ["get", "receive", "have"],
    "box": ["box", "package", "packaging"],
    "days": ["days", "whole days"],
    "email": ["email", "e-mail", "mail"],
    "last week": ["last week", "a few days ago", "the other day", "recently"],
    "the courier": ["the driver", "the delivery guy", "the courier"],
    "my bank": ["my bank", "the bank", "my banking app"],
    "working": ["working", "functioning"],
    "thanks": ["thanks", "thank you", "ta", "thx"],
    "hello": ["hello", "hallo", "hiya"],
    "looking into": ["checking", "looking into", "investigating"],
    "as soon as possible": ["asap", "quickly", "soon"],
    "where is": ["what happened to", "any idea where", "where's"],
    "my order": ["my purchase", "the order", "my last order", "what I ordered"],
    "my parcel": ["my package", "the parcel", "the delivery", "my shipment"],
    "my package": ["my parcel", "the package", "the box", "my delivery"],
    "the parcel": ["the package", "my parcel", "the shipment"],
    "hasn't arrived": ["has not arrived", "hasn't turned up", "never came", "is still not here"],
    "still hasn't": ["has still not", "hasn't yet", "still has not"],
    "can you": ["could you", "would you", "can you please", "are you able to", "pls can you"],
    "could you": ["can you", "would you mind to", "could you please"],
    "can someone": ["could somebody", "can anyone", "would someone"],
    "please": ["pls", "kindly", "please please", "plz"],
    "I want": ["I'd like", "I would like", "I need", "I wish"],
    "I'd like": ["I want", "I would like", "I'd really like", "I'd prefer"],
    "I need": ["I really need", "I must have", "I urgently need"],
    "how do I": ["how can I", "what do I do to", "what's the way to", "how would I"],
    "how can I": ["how do I", "is there a way to", "what's the process to"],
    "I can't": ["I cannot", "I'm unable to", "I still can't", "can't"],
    "doesn't work": ["does not work", "isn't working", "fails", "won't work"],
    "won't": ["will not", "refuses to", "doesn't"],
    "stopped working": ["died", "quit working", "packed up", "gave up"],
    "arrived": ["came", "turned up", "showed up", "got here"],
    "broken": ["damaged", "smashed", "in pieces", "busted"],
    "money back": ["money returned", "cash back", "refund"],
    "refund": ["reimbursement", "refund"],
    "charged": ["billed", "charged", "debited"],
    "a charge": ["a payment", "a transaction", "a debit"],
    "my card": ["my credit card", "my debit card", "my account", "my bank card"],
    "my account": ["my profile", "the account", "my customer account", "my login"],
    "log in": ["sign in", "login", "get in", "log on"],
    "sign in": ["log in", "sign on", "get in"],
    "password": ["pass word", "pwd", "login password", "passcode"],
    "subscription": ["membership", "plan", "subscription", "sub"],
    "cancel": ["end", "stop", "terminate", "cancel"],
    "delivery": ["shipment", "delivery"],
    "address": ["address", "address details"],
    "still waiting": ["still waiting", "been waiting ages", "I'm waiting"],
    "is it": ["is that", "would it be"],
    "what is": ["what's", "whats", "what exactly is"],
    "today": ["this morning", "today", "earlier today", "this afternoon"],
    "I was": ["I've been", "I was", "we were"],
    "the item": ["the product", "it", "the thing"],
    "any update": ["any news", "an update", "any progress"],
    "is that normal": ["is this normal", "is that expected", "is that supposed to happen"],
    "I tried": ["I've tried", "I already tried", "we tried"],
    "wrong": ["incorrect", "wrong"],
    "why": ["how come", "why on earth", "why"],
    "order": ["order", "purchase"],
    "again": ["once more", "again"],
    "really": ["truly", "very", "really"],
    "a week": ["seven days", "a whole week", "over a week"],
    "every time": ["each time", "all the time", "every single time"],
    "the app": ["your app", "the mobile app", "the phone app"],
    "the website": ["your site", "the web page", "the website"],
    "immediately": ["right away", "asap", "straight away", "now"],
    "I no longer": ["I don't", "I don't really", "I no longer"],
    "I've": ["I have", "I've"],
    "don't": ["do not", "don't"],
    "I'm": ["I am", "I'm", "im"],
}
