"""The one error an offline render raises, and its one-line messages."""


class RenderError(Exception):
    """The program could not be rendered; the message says why in one line."""



def one_line(text: str) -> str:
    return " ".join(text.split())
