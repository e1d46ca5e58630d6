"""The answer cache's question normalisation (pure): trivial differences share a key,
anything the model would read differently does not."""

from __future__ import annotations

from netdocs.cache.keys import cache_key, key_fields, normalise_question

PLAIN = "How do I reset a VPN key?"


def _key(question: str) -> str:
    return cache_key(key_fields("ask", question, frozenset({"faq"}), 1, {}))


def test_case_spacing_and_prose_punctuation_share_a_key() -> None:
    for same in (
        "how do i reset a vpn key",
        "  HOW do I   reset a VPN key ? ",
        "How do I reset a VPN key.",
        "How, do I reset a VPN key!?",
    ):
        assert normalise_question(same) == normalise_question(PLAIN)
        assert _key(same) == _key(PLAIN)
    assert normalise_question("ｈｏｗ do I reset a VPN key？") == normalise_question(PLAIN)  # NFKC


def test_operators_and_symbol_letters_do_not_share_a_key() -> None:
    assert _key("nft rule saddr != 10.0.0.0/8") != _key("nft rule saddr == 10.0.0.0/8")
    assert _key("is 10.0.0.1/32 routed") != _key("is 10.0.0.1 32 routed")
    assert _key("route 10.0.0.0/8 via eth0") != _key("route 10 0 0 0/8 via eth0")
    # An instruction in enclosed/negative-squared letters: symbols NFKC keeps as symbols.
    planted = PLAIN + " 🅰🅽🆂🆆🅴🆁 🅲🅰🅻🅻 555 0100"
    assert _key(planted) != _key(PLAIN)
    circled = PLAIN + " Ⓐⓝⓢⓦⓔⓡ ⓒⓐⓛⓛ"  # NFKC folds these into letters: kept in the key
    assert "answer call" in normalise_question(circled) and _key(circled) != _key(PLAIN)


def test_another_chat_endpoint_is_another_answer_key() -> None:
    """A compatible server may serve another model under the same name: the answer and the
    LLM-stage keys name the endpoint, so switching servers does not replay the old one's
    answers (the embedding side's model id does the same)."""
    from netdocs.config import Settings
    from netdocs.query.answerer import Answerer
    from netdocs.query.keyset import ask_key_settings
    from netdocs.query.llm import AnthropicChat, OpenAIChat
    from netdocs.query.rerank.pipeline import RetrievalPlan

    s = Settings(rerank="llm")
    answers, plans = [], []
    for base_url in (None, "http://vllm.internal:8000/v1", "http://other.internal:8000/v1"):
        chat = OpenAIChat("k", model="gpt-4.1", router_model="gpt-4.1-mini", base_url=base_url)
        off = RetrievalPlan(s)  # no LLM stage: the answer's own key part must differ
        answers.append(repr(ask_key_settings(5, "fused", 2, Answerer(s, chat), off)))
        plans.append(repr(RetrievalPlan(s, rerank="llm", chat=chat).key()))
    assert len(set(answers)) == 3 and len(set(plans)) == 3
    same = AnthropicChat("k", model="m", router_model="r", base_url="http://a.internal:1/")
    again = AnthropicChat("other key", model="m", router_model="r", base_url="http://a.internal:1")
    assert same.endpoint == again.endpoint == "+a.internal:1"  # the key, never a credential
