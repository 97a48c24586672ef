"""The Zextras mock: a Carbonio server's admin SOAP API (JSON and XML) and its licence.

``state`` holds the rules, ``wire`` the two wire forms, ``handlers`` one function per
request and ``platform`` the routes (the layout of moto).
"""
