"""The layouts an `orders-json` order arrives in: a one-line request, a polite e-mail, a forwarded
mail, a purchase-order form, a table block, a bullet list, a chat thread, an invoice, a call note.
Each takes an order's facts with its style (`o`) and varies its wording and the order of its parts.
"""

from __future__ import annotations

import datetime
import random

from sample_orders_text import (
    currency_note,
    date_text,
    items_lines,
    items_prose,
    items_table,
    money,
)
from sample_orders_words import ROLES

# -- the layouts ---------------------------------------------------------------------------------


def total_phrase(o: dict, rng: random.Random) -> str:
    t = money(o["total"], o, rng)
    return rng.choice(["Total: {t}", "That comes to {t}.", "Grand total {t}.", "Total {t}",
                       "Order value: {t}", "Which makes {t} in total.", "Sum: {t}",
                       "Amount due: {t}", "Total amount {t}.", "{t} altogether.",
                       "Overall {t}."]).format(t=t)  # fmt: skip


def date_phrase(o: dict, rng: random.Random) -> str:
    return rng.choice(["Order date: {d}", "Dated {d}.", "Date: {d}", "Ordered on {d}.",
                       "This order is from {d}.", "(order of {d})", "Placed {d}.",
                       "Our order date is {d}."]).format(d=o["date_s"])  # fmt: skip


def delivery_note(o: dict, rng: random.Random) -> str:
    """A delivery wish: no date, or a date labelled as the delivery date (never the order date)."""
    later = o["date"] + datetime.timedelta(days=rng.randint(3, 30))
    d2 = date_text(later, o["dates"], rng)
    return rng.choice(["Please deliver to the back entrance.", "Delivery to our warehouse, please.",
                       f"Requested delivery date: {d2}.", f"We need it delivered by {d2}.",
                       "No rush on delivery.", "Ship it in one parcel if you can.",
                       "Deliver Monday to Friday, 8-16h only.", f"Delivery wanted: {d2}",
                       "Leave it with reception.", "Express shipping please."])  # fmt: skip


def layout_one_line(o: dict, rng: random.Random) -> str:
    c, d, t, items = o["customer"], o["date_s"], money(o["total"], o, rng), items_prose(o, rng)
    text = rng.choice([
        f"Order from {c} on {d}: {items}. Total: {t}.",
        f"{c} orders {items} ({d}), total {t}.",
        f"Please book for {c}: {items}. Date {d}, {t} in total.",
        f"New order, {d}, customer {c} - {items}; total {t}",
        f"{d} | {c} | {items} | total {t}",
        f"We ({c}) want {items}. Total {t}, dated {d}.",
        f"Can you send {items} to {c}? Order date {d}. {t} total.",
        f"Re-order for {c} dated {d}: {items} = {t}",
        f"{c}: {items}. {t}. {d}.",
        f"Kindly supply {items}. Buyer {c}, {d}, order total {t}.",
        f"On {d} {c} ordered {items}, for {t} in all.",
        f"Need {items} asap - {c}, {d}. total {t}",
    ])  # fmt: skip
    note = currency_note(o, rng)
    return f"{text} {note}".strip()


def _greeting(o: dict, rng: random.Random) -> str:
    return rng.choice(["Dear Sales Team,", "Hello,", "Hi there,", "Good morning,", "Dear Sir or Madam,",
                       "Hi team,", "Guten Tag,", "Bonjour,", "Hello sales,", "Dear colleagues,"])  # fmt: skip


def _signature(o: dict, rng: random.Random, company: bool = True) -> str:
    first, last = o["person"]
    name = rng.choice([f"{first} {last}", first, f"{first[0]}. {last}"])
    lines = [rng.choice(["Kind regards,", "Best regards,", "Thanks,", "Many thanks,", "Cheers,",
                         "Best wishes,", "Mit freundlichen Grüßen", "Cordialement,", "Regards"]), name]  # fmt: skip
    if rng.random() < 0.5:
        lines.append(rng.choice(ROLES))
    if company:
        lines.append(o["customer"])
    return "\n".join(lines)


def _request(o: dict, rng: random.Random) -> str:
    """The items with a lead-in: a sentence, or a lead line and a list."""
    if rng.random() < 0.5:
        lead = rng.choice(["We would like to order {i}.", "Could you please send us {i}?",
                           "Please supply {i}.", "I'd like to place an order for {i}.",
                           "Kindly ship {i}.", "We need {i}.", "Please add {i} to our account."])  # fmt: skip
        return lead.format(i=items_prose(o, rng))
    lead = rng.choice(["Please send the following:", "Our order:", "We would like to order:",
                       "Could you supply these items?", "Here is what we need:", "Order details:",
                       "Please process this order:"])  # fmt: skip
    return f"{lead}\n{items_lines(o, rng)}"


def layout_email(o: dict, rng: random.Random) -> str:
    in_body = rng.random() < 0.4  # the customer named in the body, else only in the signature
    parts = [_greeting(o, rng)]
    if rng.random() < 0.4:
        parts.append(rng.choice(["I hope you are well.", "Thank you for the quick quote.",
                                 "Following our call last week,", "As discussed,",
                                 "Thanks for your help with the last delivery."]))  # fmt: skip
    if in_body:
        parts.append(rng.choice(["This is {c}.", "I am writing on behalf of {c}.",
                                 "{c} would like to place an order.", "Order for {c}:"]).format(c=o["customer"]))  # fmt: skip
    body = [_request(o, rng), date_phrase(o, rng), total_phrase(o, rng)]
    if rng.random() < 0.5:
        body[1], body[2] = body[2], body[1]
    parts += body
    for extra in (currency_note(o, rng), delivery_note(o, rng) if rng.random() < 0.3 else ""):
        if extra:
            parts.insert(rng.randint(2, len(parts)), extra)
    parts.append(_signature(o, rng, company=not in_body or rng.random() < 0.5))
    return rng.choice(["\n", "\n\n"]).join(parts)


def layout_forwarded(o: dict, rng: random.Random) -> str:
    first, last = o["person"]
    sender = rng.choice([f"{first} {last} ({o['customer']})", f"Purchasing, {o['customer']}",
                         f"{first} {last}"])  # fmt: skip
    note = rng.choice(["FYI - can you process this one?", "Fwd below, please enter it.",
                       "Forwarding a new order.", "See below. Thanks!", "Please handle."])  # fmt: skip
    head = rng.choice(["---------- Forwarded message ---------", "-----Original Message-----",
                       "Begin forwarded message:"])  # fmt: skip
    date_label = rng.choice(["Date", "Sent"])
    subject = rng.choice(["Order", "New order", "Purchase order", "Re: quote", "Our order",
                          "Bestellung", "Commande"])  # fmt: skip
    header = [f"From: {sender}", f"{date_label}: {o['date_s']}", f"Subject: {subject}", "To: Sales"]
    if rng.random() < 0.5:
        header[2], header[3] = header[3], header[2]
    body = [_greeting(o, rng), _request(o, rng), total_phrase(o, rng)]
    extra = currency_note(o, rng)
    if extra:
        body.append(extra)
    sig = _signature(o, rng, company=o["customer"] not in sender or rng.random() < 0.5)
    if o["customer"] not in sender and o["customer"] not in sig:
        sig += f"\n{o['customer']}"
    return "\n".join([note, "", head, *header, "", *body, sig])


def layout_po_form(o: dict, rng: random.Random) -> str:
    n = rng.randint(1000, 99999)
    title = rng.choice(["PURCHASE ORDER", f"Purchase Order No. PO-{n}", f"P.O. #{n}", "ORDER FORM",
                        f"Bestellung Nr. {n}", "Order sheet"])  # fmt: skip
    fields = [
        f"{rng.choice(['Buyer', 'Customer', 'Ordered by', 'Company', 'Bill to', 'Client'])}: {o['customer']}",
        f"{rng.choice(['Date', 'Order date', 'PO date', 'Issued', 'Dated'])}: {o['date_s']}",
    ]  # fmt: skip
    for label, values in (("Payment terms", ["30 days net", "prepaid", "14 days"]),
                          ("Ship via", ["courier", "freight", "pick-up"]),
                          ("Contact", [" ".join(o["person"])]),
                          ("Reference", [f"R{rng.randint(100, 999)}"])):  # fmt: skip
        if rng.random() < 0.3:
            fields.append(f"{label}: {rng.choice(values)}")
    rng.shuffle(fields)
    if o["money"] == "bare" or rng.random() < 0.3:
        fields.append(f"Currency: {o['currency']}")
        o = {**o, "money": "bare"}
    lines = items_table(o, rng) if rng.random() < 0.35 else items_lines(o, rng)
    total_label = rng.choice(["Total", "TOTAL", "Order total", "Grand total", "Amount", "Sum"])
    sep = rng.choice([": ", " ", ":  "])
    footer = [f"{total_label}{sep}{money(o['total'], o, rng)}"]
    if rng.random() < 0.3:
        footer.append(delivery_note(o, rng))
    return "\n".join([title, *fields, "", lines, "", *footer])


def layout_table(o: dict, rng: random.Random) -> str:
    lead = rng.choice(["Order for {c}, {d}:", "{c} - order {d}", "Customer: {c}\nDate: {d}",
                       "Attached as text (from our spreadsheet), {c}, {d}", "{d}\n{c}",
                       "Hi, our order below. {c}, dated {d}."]).format(c=o["customer"], d=o["date_s"])  # fmt: skip
    t = o if o["money"] != "bare" else {**o, "money": "code_pre"}
    tail = rng.choice(["Total: {t}", "total;{t}", "= {t}", "Sum {t}", "Order total {t}"])
    return "\n".join([lead, items_table(o, rng), tail.format(t=money(o["total"], t, rng))])


def layout_bullets(o: dict, rng: random.Random) -> str:
    head = rng.choice(["Order - {c}", "{c} order", "Items needed ({c}):", "Shopping list for {c}",
                       "To order for {c}:", "{c}"]).format(c=o["customer"])  # fmt: skip
    parts = [head, items_lines(o, rng), date_phrase(o, rng), total_phrase(o, rng)]
    if rng.random() < 0.5:
        parts[0], parts[2] = parts[2], parts[0]
    note = currency_note(o, rng)
    if note:
        parts.insert(1, note)
    return "\n".join(parts)


def layout_chat(o: dict, rng: random.Random) -> str:
    first = o["person"][0]
    h, m = rng.randint(7, 18), rng.randint(0, 55)
    stamp = rng.choice(["[{h:02d}:{m:02d}] {n}:", "{n}:", "{n} ({h}:{m:02d}):"])

    def say(text: str, k: int) -> str:
        return stamp.format(h=h, m=m + k, n=first) + " " + text

    hello = rng.choice(["hey! {c} here", "hi, order for {c} pls", "morning :) {c} again",
                        "hiya - it's {first} from {c}", "hello, quick order ({c})"]).format(
        c=o["customer"], first=first)  # fmt: skip
    items = items_prose(o, rng) if rng.random() < 0.6 else items_lines(o, rng)
    when = rng.choice(["date it {d} pls", "order date {d}", "for the books: {d}", "today = {d}",
                       "put {d} on it"]).format(d=o["date_s"])  # fmt: skip
    total = rng.choice(["total {t}", "comes to {t} i think - yes {t}", "{t} all in",
                        "so {t} total", "total should be {t}"]).format(t=money(o["total"], o, rng))  # fmt: skip
    msgs = [hello, rng.choice(["we need ", "can we get ", "", "pls send "]) + items, when, total]
    if rng.random() < 0.5:
        msgs[2], msgs[3] = msgs[3], msgs[2]
    note = currency_note(o, rng)
    if note:
        msgs.append(note.lower())
    return "\n".join(say(t, k) for k, t in enumerate(msgs))


def layout_invoice(o: dict, rng: random.Random) -> str:
    n = rng.randint(100, 9999)
    title = rng.choice(["INVOICE", f"Invoice INV-{o['date'].year}-{n:04d}", f"Invoice no. {n}",
                        "Pro-forma invoice", "Rechnung", "Facture"])  # fmt: skip
    head = [f"{rng.choice(['Bill to', 'Billed to', 'Customer', 'Invoice to', 'Sold to'])}: {o['customer']}",
            f"{rng.choice(['Invoice date', 'Date', 'Date of issue', 'Issued'])}: {o['date_s']}"]  # fmt: skip
    if rng.random() < 0.5:
        head.reverse()
    if o["money"] == "bare":
        head.append(f"Currency: {o['currency']}")
    if rng.random() < 0.5:
        lines = items_table({**o, "money": "bare"}, rng)
        if o["money"] != "bare":
            head.append(rng.choice(["Currency: {c}", "All amounts in {c}"]).format(c=o["currency"]))
            o = {**o, "money": "bare"}
    else:
        lines = items_lines(o, rng)
    t = money(o["total"], o, rng)
    foot = rng.choice([[f"Subtotal: {t}", "Shipping: free", f"Total due: {t}"],
                       [f"Total: {t}"], [f"Amount due {t}", "Payment within 30 days."],
                       [f"TOTAL {t}", "VAT included."], [f"Balance due: {t}"]])  # fmt: skip
    return "\n".join([title, *head, "", lines, "", *foot])


def layout_call_note(o: dict, rng: random.Random) -> str:
    first, last = o["person"]
    who = rng.choice([f"{first} {last} from {o['customer']}", f"{o['customer']} ({first})",
                      f"someone from {o['customer']}"])  # fmt: skip
    opener = rng.choice(["Call note, {d}: {w} rang and ordered", "Voicemail {d} - {w} wants",
                         "Spoke to {w} on {d}. Order:", "Note from the counter ({d}): {w} asked for"])  # fmt: skip
    text = opener.format(d=o["date_s"], w=who) + " " + items_prose(o, rng) + "."
    text += " " + rng.choice(["Quoted {t} total.", "Total agreed: {t}.", "They know it is {t}.",
                              "Told them {t} in total."]).format(t=money(o["total"], o, rng))  # fmt: skip
    note = currency_note(o, rng)
    return f"{text} {note}".strip()


LAYOUTS = {
    "one_line": (layout_one_line, 3),
    "email": (layout_email, 4),
    "forwarded": (layout_forwarded, 2),
    "po_form": (layout_po_form, 3),
    "table": (layout_table, 2),
    "bullets": (layout_bullets, 2),
    "chat": (layout_chat, 2),
    "invoice": (layout_invoice, 2),
    "call_note": (layout_call_note, 1),
}
