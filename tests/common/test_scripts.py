"""Token estimates: about four characters a token, a CJK character one at least."""

from common.scripts import estimated_tokens


def test_a_cjk_character_is_a_token_at_least_and_english_four_characters_one():
    english = "The Supplier shall deliver the Goods within thirty days."
    assert estimated_tokens(english) == (len(english) + 3) // 4
    assert estimated_tokens("") == 0
    assert estimated_tokens("本协议由甲方与乙方签订。") == 12
    assert estimated_tokens("第1条 本协议") == 5 + 1
    assert estimated_tokens("이 계약은") == 4 + 1
