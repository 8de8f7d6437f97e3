#!/usr/bin/env python3
"""Writes the example chat data sets (deterministic): unit conversions and arithmetic word problems, each row a
distinct conversation, so the examples have enough rows for the small-data and rank rules and no duplicates."""
import json
import random

SYSTEM = "You are a concise assistant that shows its working."
UNITS = [("kilometres", "miles", 0.621371), ("kilograms", "pounds", 2.20462), ("litres", "US gallons", 0.264172),
         ("metres", "feet", 3.28084), ("centimetres", "inches", 0.393701), ("kilojoules", "kilocalories", 0.239006)]
NAMES = ["Ada", "Bao", "Chidi", "Dana", "Emil", "Farah", "Goran", "Hana", "Ines", "Jonas", "Kenji", "Lena"]
ITEMS = ["apples", "notebooks", "tickets", "bolts", "seedlings", "batteries"]


def conversion(rng: random.Random) -> list[dict[str, str]]:
    src, dst, factor = rng.choice(UNITS)
    amount = rng.randint(2, 5000) / rng.choice([1, 10])
    result = amount * factor
    return [
        {"role": "system", "content": SYSTEM},
        {"role": "user", "content": f"How many {dst} are {amount:g} {src}?"},
        {"role": "assistant", "content": f"1 {src[:-1]} is {factor:g} {dst}, so {amount:g} x {factor:g} = {result:.3f} {dst}."},
    ]


def word_problem(rng: random.Random) -> list[dict[str, str]]:
    name, item = rng.choice(NAMES), rng.choice(ITEMS)
    boxes, per_box, given = rng.randint(2, 40), rng.randint(3, 60), rng.randint(1, 50)
    total = boxes * per_box
    given = min(given, total)
    return [
        {"role": "user", "content": f"{name} buys {boxes} boxes of {item} with {per_box} in each box and gives away {given}. How many {item} are left?"},
        {"role": "assistant", "content": f"{boxes} x {per_box} = {total} {item}; {total} - {given} = {total - given} left."},
    ]


def write(path: str, rows: int, seed: int) -> None:
    rng = random.Random(seed)
    seen: set[str] = set()
    with open(path, "w", encoding="utf-8", newline="\n") as out:
        while len(seen) < rows:
            messages = conversion(rng) if rng.random() < 0.5 else word_problem(rng)
            line = json.dumps({"messages": messages}, ensure_ascii=False)
            if line not in seen:
                seen.add(line)
                out.write(line + "\n")


if __name__ == "__main__":
    write("train.jsonl", 1200, seed=1)
    write("eval.jsonl", 120, seed=2)
