"""Model providers behind small Protocols: Cohere, OpenAI-compatible chat, their wiring.

May import only `config` and `errors`; it sits beside `book`, below the index and answers.
"""
