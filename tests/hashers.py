"""A password hasher for the suite only.

Django's PBKDF2 hasher runs 1,000,000 iterations, about 0.4 s of CPU on the development
machine, for every user a test makes and every password a test signs in with: most of
the suite's CPU went there (docs/testing.md). Django's own advice for test suites is a
faster hasher. This one keeps PBKDF2's name and format with a single iteration, so a
server a test starts in another process, with the stock hashers, still accepts these
passwords (PBKDF2 reads the iteration count from the stored hash).
"""

from django.contrib.auth.hashers import PBKDF2PasswordHasher


class OneIterationPBKDF2PasswordHasher(PBKDF2PasswordHasher):
    iterations = 1
