"""Verify the forgetting probe's candidate questions on the base default model; keep what it knows.

    flock /tmp/heavy.lock .venv/bin/python scripts/sample_probe.py   # ask the model, write the kept list
    .venv/bin/python scripts/make_samples.py                          # rebuild general-probe from it

A forgetting probe measures a fall from what the base model could do, so it should hold only
questions the base model answers right: asked here the way `compare` asks the probe (greedy, its
own chat template, at most PROBE_MAX_NEW_TOKENS new tokens, batched), scored with the probe's
contains-reference metric. The result, every candidate with the base answer and whether it was
kept, goes to scripts/general_probe_verified.json; make_samples.py builds the sample from it, so
the sample is reproducible without a model and the choice can be audited line by line.

Candidates are refused before asking when a right answer could be an accident: a reference of one
letter ("A" occurs in almost any answer) or one that the question itself contains (an answer
that repeats "100 divided by 10" contains "10"). Short references that are common parts of words
("ear", "ice", "ate", "Na") were left out of the lists for the same reason.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import Counter
from pathlib import Path

VERIFIED = Path(__file__).resolve().parent / "general_probe_verified.json"
MODEL = "smollm2-135m-instruct"
WRONG = (
    "wrong answer"  # the `why_not` of a candidate the base model got wrong (make_samples counts it)
)

FIRST_PROBE = [  # the probe's first 60 questions (kept of 147 asked, 32-40 new tokens)
    ("What is the capital of France?", "Paris"),
    ("What is the capital of Germany?", "Berlin"),
    ("What is the capital of Japan?", "Tokyo"),
    ("What is the capital of England?", "London"),
    ("What is the capital of Russia?", "Moscow"),
    ("What is the capital of China?", "Beijing"),
    ("What is the capital of Egypt?", "Cairo"),
    ("What is the capital of Canada?", "Ottawa"),
    ("What is the capital of Australia?", "Canberra"),
    ("What is the capital of Greece?", "Athens"),
    ("What is the capital of Ireland?", "Dublin"),
    ("What is the capital of Austria?", "Vienna"),
    ("What is the capital of Norway?", "Oslo"),
    ("What is the capital of Sweden?", "Stockholm"),
    ("What is 2 + 3?", "5"),
    ("What is 3 times 3?", "9"),
    ("What is 6 + 6?", "12"),
    ("What is 100 divided by 10?", "10"),
    ("What is 2 times 5?", "10"),
    ("What colour is the sky on a clear day?", "blue"),
    ("What is the opposite of hot?", "cold"),
    ("What is the opposite of big?", "small"),
    ("What is the opposite of up?", "down"),
    ("What is the opposite of day?", "night"),
    ("What is the opposite of happy?", "sad"),
    ("What is the opposite of fast?", "slow"),
    ("What is the opposite of light?", "dark"),
    ("How many legs does a dog have?", "four"),
    ("What gas do plants absorb from the air?", "carbon dioxide"),
    ("What is the chemical symbol for water?", "H2O"),
    ("What is the boiling point of water in Celsius?", "100"),
    ("Who wrote Romeo and Juliet?", "Shakespeare"),
    ("Who painted the Mona Lisa?", "Leonardo"),
    ("What is the largest ocean on Earth?", "Pacific"),
    ("What is the longest river in Africa?", "Nile"),
    ("What is the tallest mountain in the world?", "Everest"),
    ("What is the largest mammal?", "whale"),
    ("What language is spoken in Brazil?", "Portuguese"),
    ("What language is spoken in France?", "French"),
    ("What is the currency of Japan?", "yen"),
    ("What is the currency of the United Kingdom?", "pound"),
    ("How many sides does a triangle have?", "three"),
    ("How many sides does a square have?", "four"),
    ("What is the plural of mouse?", "mice"),
    ("What is the plural of child?", "children"),
    ("Translate 'hello' into Spanish.", "hola"),
    ("What is the first letter of the English alphabet?", "A"),
    ("Which organ pumps blood through the body?", "heart"),
    ("What do we call a baby cat?", "kitten"),
    ("Which continent is Kenya in?", "Africa"),
    ("Which continent is France in?", "Europe"),
    ("Who was the first person to walk on the Moon?", "Armstrong"),
    ("What instrument has 88 keys?", "piano"),
    ("What is the main ingredient in bread?", "flour"),
    ("What is the next number: 2, 4, 6, 8?", "10"),
    ("What is 3 + 4?", "7"),
    ("What language is spoken in Germany?", "German"),
    ("Who developed the theory of relativity?", "Einstein"),
    ("Who discovered penicillin?", "Fleming"),
    ("What is the largest desert in the world?", "Sahara"),
]

CAPITALS = [
    ("Italy", "Rome"),
    ("Spain", "Madrid"),
    ("Portugal", "Lisbon"),
    ("Poland", "Warsaw"),
    ("the Netherlands", "Amsterdam"),
    ("Belgium", "Brussels"),
    ("Denmark", "Copenhagen"),
    ("Finland", "Helsinki"),
    ("Hungary", "Budapest"),
    ("Turkey", "Ankara"),
    ("India", "Delhi"),
    ("South Korea", "Seoul"),
    ("Thailand", "Bangkok"),
    ("Mexico", "Mexico City"),
    ("Argentina", "Buenos Aires"),
    ("Peru", "Lima"),
    ("Kenya", "Nairobi"),
    ("Cuba", "Havana"),
    ("Scotland", "Edinburgh"),
    ("the Czech Republic", "Prague"),
    ("Iran", "Tehran"),
    ("Vietnam", "Hanoi"),
    ("Indonesia", "Jakarta"),
    ("the Philippines", "Manila"),
    ("the United States", "Washington"),
    ("Switzerland", "Bern"),
    ("Chile", "Santiago"),
    ("Iceland", "Reykjavik"),
    ("Nigeria", "Abuja"),
    ("Ukraine", "Kyiv"),
]
SUMS = [
    ("4 + 5", "9"),
    ("7 + 8", "15"),
    ("10 + 10", "20"),
    ("8 + 2", "10"),
    ("1 + 1", "2"),
    ("9 + 6", "15"),
    ("5 + 7", "12"),
    ("9 - 4", "5"),
    ("15 - 7", "8"),
    ("10 minus 3", "7"),
    ("20 minus 8", "12"),
    ("4 times 4", "16"),
    ("5 times 3", "15"),
    ("6 times 2", "12"),
    ("7 times 2", "14"),
    ("3 times 6", "18"),
    ("12 divided by 3", "4"),
    ("20 divided by 4", "5"),
    ("18 divided by 2", "9"),
    ("24 divided by 6", "4"),
    ("half of 10", "5"),
    ("half of 30", "15"),
    ("double 7", "14"),
    ("double 9", "18"),
]
OPPOSITES = [
    ("old", "young"),
    ("open", "closed"),
    ("full", "empty"),
    ("early", "late"),
    ("strong", "weak"),
    ("rich", "poor"),
    ("wet", "dry"),
    ("soft", "hard"),
    ("love", "hate"),
    ("win", "lose"),
    ("push", "pull"),
    ("north", "south"),
    ("east", "west"),
    ("heavy", "light"),
    ("clean", "dirty"),
    ("quiet", "loud"),
    ("inside", "outside"),
    ("true", "false"),
    ("buy", "sell"),
    ("remember", "forget"),
]
PLURALS = [
    ("foot", "feet"),
    ("tooth", "teeth"),
    ("goose", "geese"),
    ("man", "men"),
    ("woman", "women"),
    ("person", "people"),
    ("leaf", "leaves"),
    ("knife", "knives"),
    ("ox", "oxen"),
    ("cactus", "cacti"),
    ("wolf", "wolves"),
    ("box", "boxes"),
]
BABIES = [
    ("dog", "puppy"),
    ("cow", "calf"),
    ("sheep", "lamb"),
    ("horse", "foal"),
    ("frog", "tadpole"),
    ("kangaroo", "joey"),
    ("duck", "duckling"),
    ("bear", "cub"),
    ("swan", "cygnet"),
    ("goat", "kid"),
    ("lion", "cub"),
    ("deer", "fawn"),
]
LANGUAGES = [
    ("Spain", "Spanish"),
    ("Italy", "Italian"),
    ("Mexico", "Spanish"),
    ("Japan", "Japanese"),
    ("Russia", "Russian"),
    ("Greece", "Greek"),
    ("the Netherlands", "Dutch"),
    ("Portugal", "Portuguese"),
    ("Argentina", "Spanish"),
    ("China", "Chinese"),
    ("Poland", "Polish"),
    ("Sweden", "Swedish"),
    ("Turkey", "Turkish"),
    ("Egypt", "Arabic"),
]
CURRENCIES = [
    ("the United States", "dollar"),
    ("Germany", "euro"),
    ("India", "rupee"),
    ("China", "yuan"),
    ("Switzerland", "franc"),
    ("Mexico", "peso"),
    ("France", "euro"),
    ("Canada", "dollar"),
    ("Australia", "dollar"),
    ("Thailand", "baht"),
]
COUNTS = [
    ("How many legs does a spider have?", "eight"),
    ("How many legs does an insect have?", "six"),
    ("How many legs does a bird have?", "two"),
    ("How many legs does a cat have?", "four"),
    ("How many sides does a hexagon have?", "six"),
    ("How many sides does a pentagon have?", "five"),
    ("How many sides does an octagon have?", "eight"),
    ("How many sides does a rectangle have?", "four"),
    ("How many days are in a week?", "seven"),
    ("How many months are in a year?", "twelve"),
    ("How many hours are in a day?", "24"),
    ("How many minutes are in an hour?", "60"),
    ("How many seconds are in a minute?", "60"),
    ("How many days are in a leap year?", "366"),
    ("How many continents are there?", "seven"),
    ("How many planets are in the Solar System?", "eight"),
    ("How many wheels does a bicycle have?", "two"),
    ("How many wheels does a tricycle have?", "three"),
    ("How many strings does a standard guitar have?", "six"),
    ("How many weeks are in a year?", "52"),
    ("How many centimetres are in a metre?", "100"),
    ("How many grams are in a kilogram?", "1000"),
    ("How many years are in a century?", "100"),
    ("How many days are in a normal year?", "365"),
]
COLOURS = [
    ("What colour is grass?", "green"),
    ("What colour is a ripe banana?", "yellow"),
    ("What colour is fresh snow?", "white"),
    ("What colour are ripe strawberries?", "red"),
    ("What colour is coal?", "black"),
    ("What colour is a carrot?", "orange"),
    ("What colour do you get by mixing blue and yellow?", "green"),
    ("What colour do you get by mixing red and white?", "pink"),
    ("What colour do you get by mixing red and yellow?", "orange"),
    ("What colour is a polar bear's fur?", "white"),
]
SCIENCE = [
    ("Which planet is known as the Red Planet?", "Mars"),
    ("What is the largest planet in the Solar System?", "Jupiter"),
    ("What is the closest star to Earth?", "Sun"),
    ("What force pulls objects toward the ground?", "gravity"),
    ("What is the centre of an atom called?", "nucleus"),
    ("What gas do humans breathe out?", "carbon dioxide"),
    ("What gas do humans need to breathe in to live?", "oxygen"),
    ("Which organ do we use to breathe?", "lung"),
    ("Which organ do we use to think?", "brain"),
    ("What is the largest organ of the human body?", "skin"),
    ("Which part of the body do we use to see?", "eye"),
    ("How many bones are in the adult human body?", "206"),
    ("What is the natural satellite of the Earth called?", "Moon"),
    ("What is the study of living things called?", "biology"),
    ("Which gas do balloons that float usually contain?", "helium"),
    ("What do we call animals that eat only plants?", "herbivore"),
]
PEOPLE = [
    ("Who wrote Hamlet?", "Shakespeare"),
    ("Who wrote the Harry Potter books?", "Rowling"),
    ("Who painted The Starry Night?", "Gogh"),
    ("Who composed the Moonlight Sonata?", "Beethoven"),
    ("Who was the first president of the United States?", "Washington"),
    ("Who invented the light bulb?", "Edison"),
    ("Who wrote Pride and Prejudice?", "Austen"),
    ("Who wrote the Odyssey?", "Homer"),
    ("Who painted the ceiling of the Sistine Chapel?", "Michelangelo"),
    ("Who proposed the theory of evolution by natural selection?", "Darwin"),
    ("Who was the first person to travel into space?", "Gagarin"),
    ("Who wrote the play Macbeth?", "Shakespeare"),
    ("Who composed The Magic Flute?", "Mozart"),
    ("Who discovered radium together with her husband Pierre?", "Marie"),
    ("Who created Mickey Mouse?", "Disney"),
    ("Who founded Microsoft with Paul Allen?", "Gates"),
]
PLACES = [
    ("What is the largest country in the world by area?", "Russia"),
    ("What is the longest river in South America?", "Amazon"),
    ("What is the largest continent?", "Asia"),
    ("What is the coldest continent?", "Antarctica"),
    ("Which continent is Brazil in?", "South America"),
    ("Which continent is Japan in?", "Asia"),
    ("Which continent is Egypt in?", "Africa"),
    ("Which continent is Canada in?", "North America"),
    ("Which continent is Germany in?", "Europe"),
    ("Which continent is India in?", "Asia"),
    ("In which country is the Eiffel Tower?", "France"),
    ("In which city is the Colosseum?", "Rome"),
    ("In which country is the Great Wall?", "China"),
    ("In which country is the Taj Mahal?", "India"),
    ("In which city is Big Ben?", "London"),
    ("In which city is the Statue of Liberty?", "New York"),
    ("Which country is shaped like a boot?", "Italy"),
    ("What is the largest city in the United States?", "New York"),
    ("Which river flows through London?", "Thames"),
    ("Which river flows through Paris?", "Seine"),
    ("Which river flows through Egypt?", "Nile"),
]
WORDS = [
    ("Translate 'thank you' into French.", "merci"),
    ("Translate 'cat' into Spanish.", "gato"),
    ("Translate 'dog' into German.", "Hund"),
    ("Translate 'thank you' into Spanish.", "gracias"),
    ("Translate 'good morning' into French.", "bonjour"),
    ("Translate 'house' into Spanish.", "casa"),
    ("Translate 'friend' into Spanish.", "amigo"),
    ("Translate 'please' into Spanish.", "por favor"),
    ("Translate 'water' into Spanish.", "agua"),
    ("Translate 'goodbye' into Italian.", "arrivederci"),
    ("Translate 'thank you' into German.", "danke"),
    ("Translate 'book' into French.", "livre"),
    ("What is the past tense of go?", "went"),
    ("What is the past tense of see?", "saw"),
    ("What is the past tense of write?", "wrote"),
]
SEQUENCES = [
    ("What is the next number: 1, 2, 3, 4?", "5"),
    ("What is the next number: 5, 10, 15?", "20"),
    ("What is the next number: 10, 20, 30?", "40"),
    ("What is the next number: 3, 6, 9?", "12"),
    ("What is the next number: 1, 3, 5, 7?", "9"),
    ("What day comes after Monday?", "Tuesday"),
    ("What day comes after Friday?", "Saturday"),
    ("What day comes after Sunday?", "Monday"),
    ("What month comes after January?", "February"),
    ("What month comes after June?", "July"),
    ("What month comes after November?", "December"),
    ("What month comes before April?", "March"),
]
THINGS = [
    ("What do you call a house made of ice blocks?", "igloo"),
    ("What do we call a person who looks after teeth?", "dentist"),
    ("What do we call a doctor for animals?", "vet"),
    ("What do we call a person who flies a plane?", "pilot"),
    ("What do we call the meal eaten in the morning?", "breakfast"),
    ("What do we call a person who writes books?", "author"),
    ("What do we call a young person who studies at a school?", "student"),
    ("What is the main ingredient in guacamole?", "avocado"),
    ("What is the main ingredient in an omelette?", "egg"),
    ("What is the main ingredient in cheese?", "milk"),
    ("What is the main ingredient in french fries?", "potato"),
    ("What fruit is wine usually made from?", "grape"),
    ("What is the largest land animal?", "elephant"),
    ("Which animal has the longest neck?", "giraffe"),
    ("Which animal has black and white stripes?", "zebra"),
    ("What is the fastest land animal?", "cheetah"),
    ("Which bird cannot fly and lives in Antarctica?", "penguin"),
    ("Which animal says moo?", "cow"),
    ("Which sport is played at Wimbledon?", "tennis"),
    ("What do you call the person who leads an orchestra?", "conductor"),
    ("What do you use to cut paper?", "scissors"),
    ("What do you wear on your feet?", "shoe"),
    (
        "What is the name of the toy made of a string and a spinning disc that goes up and down?",
        "yo-yo",
    ),
]

CANDIDATES: list[tuple[str, str]] = (
    list(FIRST_PROBE)
    + [(f"What is the capital of {c}?", a) for c, a in CAPITALS]
    + [(f"What is {s}?", a) for s, a in SUMS]
    + [(f"What is the opposite of {w}?", a) for w, a in OPPOSITES]
    + [(f"What is the plural of {w}?", a) for w, a in PLURALS]
    + [(f"What do we call a baby {w}?", a) for w, a in BABIES]
    + [(f"What language is spoken in {c}?", a) for c, a in LANGUAGES]
    + [(f"What is the currency of {c}?", a) for c, a in CURRENCIES]
    + COUNTS
    + COLOURS
    + SCIENCE
    + PEOPLE
    + PLACES
    + WORDS
    + SEQUENCES
    + THINGS
)


def refused(question: str, reference: str) -> str | None:
    """Why a candidate is not asked at all (a right answer could be an accident), or None."""
    if len(reference.strip()) < 2 and not reference.strip().isdigit():
        return "reference of one character"  # a digit is matched as a number word too
    if reference.casefold() in question.casefold():
        return "the question contains its reference"
    return None


def verify(candidates: list[tuple[str, str]]) -> list[dict]:
    """Ask the base model every candidate the way `compare` asks the probe; one record each."""
    from workbench.comparison.comparison import PROBE_MAX_NEW_TOKENS
    from workbench.comparison.generation import GenerationSettings, generate
    from workbench.models import load_model

    asked = [(q, a) for q, a in candidates if refused(q, a) is None]
    model, tokenizer = load_model(MODEL, technique="lora")
    model.eval()
    settings = GenerationSettings(max_new_tokens=PROBE_MAX_NEW_TOKENS, batch_size=8)
    answers = generate(
        model, tokenizer, [[{"role": "user", "content": q}] for q, _ in asked], settings=settings
    )
    by_question = dict(zip((q for q, _ in asked), answers, strict=True))
    records = []
    for q, a in candidates:
        answer = by_question.get(q)
        why = refused(q, a) or (None if answer is None else wrong(answer, a))
        records.append(
            {
                "question": q,
                "reference": a,
                "base_answer": answer,
                "kept": why is None,
                "why_not": why,
            }
        )
    return records


# a sentence ends at . ! or ? after a word of two lower-case letters or digits ("J.K. Rowling" goes on)
_SENTENCE_END = re.compile(r"(?<=[a-z0-9]{2}[.!?])\s")


def wrong(answer: str, reference: str) -> str | None:
    """Why a base answer does not count as knowing the answer, or None when it does.

    The reference must be in the first sentence: "A year is approximately 365 days. So, 1 year is
    365 * 12 = 312 months." contains "12" by accident, and a question the base model gets right
    by accident flips for no reason once tuned, which is noise in the forgetting measure."""
    from workbench.comparison.metrics import (
        contains_reference,  # here: make_samples.py is stdlib only
    )

    if contains_reference(answer, reference) != 1.0:
        return WRONG
    first = _SENTENCE_END.split(answer.strip(), maxsplit=1)[0]
    if contains_reference(first, reference) != 1.0:
        return "the reference is not in the first sentence"
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--list", action="store_true", help="print the candidates and exit")
    parser.add_argument("--out", type=Path, default=VERIFIED)
    args = parser.parse_args(argv)
    questions = [q for q, _ in CANDIDATES]
    dupes = sorted({q for q in questions if questions.count(q) > 1})
    if dupes:
        raise SystemExit(f"duplicate candidate questions: {dupes}")
    if args.list:
        print("\n".join(f"{q}\t{a}" for q, a in CANDIDATES))
        return 0
    records = verify(CANDIDATES)
    tmp = args.out.with_suffix(".tmp")
    tmp.write_text(json.dumps(records, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    tmp.replace(args.out)
    reasons = Counter(r["why_not"] or "kept" for r in records)
    print(f"{len(records)} candidates -> {args.out}: {dict(reasons)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
