"""Regenerate canonical_json.json, the golden vectors of ipfs.CanonicalJSON.

Each case is [input text, expected output text or null when the reference
node refuses the body]. Expected outputs are what pyaleph's add_json stores:
json.loads of the body (aiohttp's request.json), then aleph's
toolkit/json.py dumps: orjson.dumps(OPT_SORT_KEYS | OPT_NON_STR_KEYS), or
json.dumps(sort_keys=True) when orjson raises TypeError.

    python3 gen_canonical_json.py > canonical_json.json   (orjson 3.8.3)
"""
import json
import random

import orjson


def pyaleph(text):
    try:
        obj = json.loads(text)
    except (ValueError, RecursionError):
        return None
    try:
        return orjson.dumps(obj, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS).decode()
    except TypeError:
        return json.dumps(obj, sort_keys=True)


FIXED = [
    '{"b":1,"a":{"d":[1,2,{"z":0,"y":1}],"c":null}}',
    '  {"a" : 1 ,\n "a": 2}\t',
    '{"\u00e9":1,"z":2,"Z":3,"\U0001F600":4,"\uffff":5,"\ud7ff":6,"\ue000":7}',
    '"\\u2028\\u2029\\u007f\\u001f\\u0000\\b\\f\\n\\r\\t\\/\\"\\\\ \u00e9\U0001F600"',
    '"\\ud83d\\ude00 pair"', '"\\ud800 lone"', '"\\udc00"', '"\\ud800\\u0041"', '{"\\udfff":1,"a":[2]}',
    '["\\ud800", 1.5, 1e16, NaN, Infinity, -Infinity, "\u00e9", "\\u007f"]',
    '1', '-0', '0', '-0.0', '0.0', '1.0', '3.0e0', '1E2', '1e+2', '1e-2',
    '1e16', '1e15', '1e17', '1e21', '1e22', '1e-5', '1e-6', '1e-7', '0.0001', '0.00001', '0.000001',
    '2.5e-5', '0.1', '0.3', '123.456', '-123.456e10', '12345678901234567.0', '1234567890123456.7',
    '1.2345678901234567e-7', '100000000000000000000.0', '1.7976931348623157e308', '5e-324', '1e-400',
    '1e400', '-1e400', 'NaN', 'Infinity', '-Infinity', '1.5e300', '4.35', '0.1e1', '9007199254740993.0',
    '18446744073709551615', '18446744073709551616', '-9223372036854775808', '-9223372036854775809',
    '123456789012345678901234567890', '[18446744073709551616, 1e16, 1e-5, 0.5, "\u00e9"]',
    '{"a":18446744073709551616,"a":true}', '{"a":"\\ud800","a":1}', '{"\\ud800":1,"\\ud800":2}',
    'true', 'false', 'null', '[]', '{}', '[[]]', '{"a":{}}', '"plain"',
    '01', '1.', '.5', '-', '+1', '1e', '[1,]', '{"a":1,}', "{'a':1}", '"\x01"', '"\\x"', '"\\u12"',
    '', ' ', '[1] x', 'nul', '\ufeff{}', '[' * 50 + ']' * 50,
]

ALPHABET = ['a', 'Z', '0', ' ', '"', '\\', '/', '\n', '\x1f', '\x7f', '\u00e9', '\u2028', '\uffff', '\U0001F600', '\ud800']


def rnd_str(r):
    return ''.join(r.choice(ALPHABET) for _ in range(r.randint(0, 6)))


def rnd_num(r):
    k = r.randint(0, 5)
    if k == 0:
        return r.randint(-2**70, 2**70)
    if k == 1:
        return r.randint(-1000, 1000)
    if k == 2:
        return r.uniform(-1e3, 1e3)
    if k == 3:
        return float(f"{r.randint(1, 99999)}e{r.randint(-330, 310)}")
    if k == 4:
        return r.random() * 10 ** r.randint(-10, 25)
    return r.choice([0.0, -0.0, 1.0, 1e16, 1e15, 1e-5, 1e-6])


def rnd_value(r, depth=0):
    k = r.randint(0, 6 if depth < 4 else 3)
    if k == 0:
        return r.choice([None, True, False])
    if k in (1, 2):
        return rnd_num(r)
    if k == 3:
        return rnd_str(r)
    if k == 4:
        return [rnd_value(r, depth + 1) for _ in range(r.randint(0, 4))]
    return {rnd_str(r): rnd_value(r, depth + 1) for _ in range(r.randint(0, 4))}


def main():
    r = random.Random(6)
    cases = list(FIXED)
    for _ in range(400):
        v = rnd_value(r)
        text = json.dumps(v, ensure_ascii=r.random() < 0.5, indent=r.choice([None, 1]))
        try:
            text.encode("utf-8")  # a raw lone surrogate is no UTF-8 body
        except UnicodeEncodeError:
            continue
        cases.append(text)
    print(json.dumps([[c, pyaleph(c)] for c in cases], indent=0))


main()
