"""NHS number Modulus 11 checks. Expected values are worked by hand in the comments."""

import pytest

from app.calc.nhs_number import is_valid_nhs_number, nhs_number_check_digit, normalise_nhs_number


class TestNormalise:
    @pytest.mark.parametrize(
        ("raw", "expected"),
        [
            ("9434765919", "9434765919"),
            ("943 476 5919", "9434765919"),
            ("943-476-5919", "9434765919"),
            ("  943 476-5919\n", "9434765919"),
            ("94347659A9", "94347659A9"),  # letters are kept, so validation can reject them
        ],
    )
    def test_strips_spaces_and_hyphens_only(self, raw: str, expected: str) -> None:
        assert normalise_nhs_number(raw) == expected


class TestCheckDigit:
    def test_ordinary_check_digit(self) -> None:
        # 9*10 + 4*9 + 3*8 + 4*7 + 7*6 + 6*5 + 5*4 + 9*3 + 1*2 = 299; 299 % 11 = 2; 11 - 2 = 9
        assert nhs_number_check_digit("943476591") == 9

    def test_another_ordinary_check_digit(self) -> None:
        # 4*10 + 0 + 1*8 + 0 + 2*6 + 3*5 + 2*4 + 1*3 + 3*2 = 92; 92 % 11 = 4; 11 - 4 = 7
        assert nhs_number_check_digit("401023213") == 7

    def test_all_nines(self) -> None:
        # 9 * (10+9+...+2) = 9 * 54 = 486; 486 % 11 = 2; 11 - 2 = 9
        assert nhs_number_check_digit("999999999") == 9

    def test_result_eleven_becomes_zero(self) -> None:
        # 90+72+56+42+30+20+12+6+2 = 330; 330 % 11 = 0; 11 - 0 = 11 -> 0
        assert nhs_number_check_digit("987654321") == 0

    def test_result_ten_means_no_valid_number(self) -> None:
        # 10+18+24+28+30+30+28+24+18 = 210; 210 % 11 = 1; 11 - 1 = 10 -> invalid
        assert nhs_number_check_digit("123456789") is None

    def test_single_weighted_digit_giving_ten(self) -> None:
        # only the fifth digit (weight 6) is set: 2*6 = 12; 12 % 11 = 1; 11 - 1 = 10
        assert nhs_number_check_digit("000020000") is None

    @pytest.mark.parametrize(
        "bad", ["", "12345678", "1234567890", "12345678a", "1234 5678", "١٢٣٤٥٦٧٨٩"]
    )
    def test_rejects_anything_but_nine_ascii_digits(self, bad: str) -> None:
        with pytest.raises(ValueError, match="nine digits"):
            nhs_number_check_digit(bad)


class TestIsValid:
    @pytest.mark.parametrize(
        "raw",
        [
            "9434765919",
            "4010232137",
            "9999999999",  # all nines happens to satisfy Modulus 11 (check digit 9, above)
            "9876543210",  # check digit 0 via the 11 -> 0 rule
            "943 476 5919",
            "943-476-5919",
        ],
    )
    def test_valid(self, raw: str) -> None:
        assert is_valid_nhs_number(raw) is True

    def test_all_zeros_passes_the_arithmetic(self) -> None:
        # sum 0 -> 11 - 0 = 11 -> 0. Only format and check digit are checked, not allocation.
        assert is_valid_nhs_number("0000000000") is True

    @pytest.mark.parametrize(
        "raw",
        [
            "9434765918",  # wrong check digit (should be 9)
            "9434765910",
            "9876543211",  # check digit should be 0
            "1234567890",  # prefix gives 10: no check digit can be right
            "1234567899",
        ],
    )
    def test_wrong_check_digit(self, raw: str) -> None:
        assert is_valid_nhs_number(raw) is False

    @pytest.mark.parametrize(
        "raw",
        [
            "",
            "943476591",  # nine digits
            "94347659190",  # eleven digits
            "94347659A9",
            "NHS9434765919",
            "943_476_5919",  # underscore is not a separator
            "９４３４７６５９１９",  # full-width digits are not ASCII digits
        ],
    )
    def test_wrong_shape(self, raw: str) -> None:
        assert is_valid_nhs_number(raw) is False
