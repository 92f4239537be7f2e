"""Finding and replacing secrets by value, for `qbtrace sanitize`.

The pieces go one way: `names` says which field names mean a secret, `find` picks candidate
secrets out of any text, `standin` makes keyed stand-ins, `replace` swaps every occurrence of
every collected value in one pass over a text. None of these knows HAR: `walk` walks a HAR
document with them, and other inputs (logs) can use the same core on plain text.
"""
