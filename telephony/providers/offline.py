"""The default carrier line-type provider: no network, no cost, libphonenumber's metadata.

A numbering plan can say a number is mobile in most countries (mobile ranges are their
own), but not in North America, where mobiles and landlines share area codes: there every
number is unknown, and so stays Other.
"""

from decimal import Decimal

import phonenumbers
from phonenumbers import PhoneNumberType

from telephony.providers.base import LineType, LineTypeAnswer

_TYPES = {
    PhoneNumberType.MOBILE: LineType.MOBILE,
    PhoneNumberType.FIXED_LINE: LineType.LANDLINE,
    PhoneNumberType.VOIP: LineType.VOIP,
    PhoneNumberType.TOLL_FREE: LineType.TOLL_FREE,
}


class OfflineLineTypeProvider:
    name = "offline"

    def lookup(self, e164: str) -> LineTypeAnswer:
        try:
            parsed = phonenumbers.parse(e164, None)
        except phonenumbers.NumberParseException:
            return LineTypeAnswer(LineType.UNKNOWN, None, Decimal(0), valid=False)
        if not phonenumbers.is_valid_number(parsed):
            return LineTypeAnswer(LineType.UNKNOWN, None, Decimal(0), valid=False)
        line_type = _TYPES.get(phonenumbers.number_type(parsed), LineType.UNKNOWN)
        return LineTypeAnswer(line_type, None, Decimal(0))
