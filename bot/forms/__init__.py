"""XLSForm questionnaires played in a chat: loading, checking, running and exporting.

from bot.forms import load_form, check_form, Form, FormError, Prompt, Runner
"""

from bot.forms.checks import check_form
from bot.forms.errors import FormError
from bot.forms.loading import load_form
from bot.forms.model import Form
from bot.forms.prompts import Prompt
from bot.forms.runner import AnswerResult, Runner

__all__ = ["AnswerResult", "Form", "FormError", "Prompt", "Runner", "check_form", "load_form"]
