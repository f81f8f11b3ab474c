"""Field-weighted BM25 vectors: titles and headings count more; asides can count less."""

from __future__ import annotations

from bookrag.answering.terms import defined_terms
from bookrag.book.teaching import is_aside, is_question
from bookrag.index import lexical


def weight_of(vector_text: str, word: str, weighting: lexical.Weighting | None = None) -> float:
    vector = lexical.document_vector(vector_text, weighting)
    term = lexical.term_id(lexical.terms(word)[0])
    return dict(zip(vector.indices, vector.values, strict=True)).get(term, 0.0)


def test_a_term_in_the_title_or_heading_outweighs_the_same_term_in_the_body() -> None:
    body = "Some words about wiring the board.\nMore words here about wiring."
    in_title = weight_of(f"Anemometer › Wiring\n{body}", "anemometer")
    in_heading = weight_of(f"Guide › Anemometer\n{body}", "anemometer")
    in_body = weight_of(f"Guide › Wiring\n{body} anemometer", "anemometer")
    assert in_title > in_body and in_heading > in_body


def test_asides_can_be_weighted_down_as_a_field_of_their_own() -> None:
    down = lexical.Weighting(aside=0.3)
    teaching_line = weight_of("Guide\nThe anemometer spins with the wind.", "anemometer", down)
    nav_line = weight_of("Guide\n[← Back](./a) | [Anemometer →](./b)", "anemometer", down)
    option = weight_of("Guide\na) The anemometer spins with the wind.", "anemometer", down)
    assert nav_line < teaching_line and option < teaching_line


def test_down_weighted_asides_do_not_make_a_chunk_read_as_shorter() -> None:
    # A quiz chunk: one teaching line among options. Weighing the options down must not
    # lift the teaching line's terms, as a shorter chunk's would be.
    quiz = "Guide\nThe anemometer counts turns.\n" + "\n".join(
        f"{letter}) A distractor option about gauges and vanes." for letter in "abcd"
    )
    down = weight_of(quiz, "anemometer", lexical.Weighting(aside=0.3))
    assert down <= weight_of(quiz, "anemometer", lexical.Weighting(aside=1.0))


def test_asides_are_told_by_structure() -> None:
    assert is_aside("[← Course Syllabus](./syllabus) | [Hardware Requirements →](./hw)")
    assert is_aside("- [Gazebo Documentation](https://gazebosim.org/docs)")
    assert is_aside("a) To manage all ROS 2 communication centrally.")
    assert is_aside("- [ ] Wire the sensor")
    assert is_aside("5. B) To publish the wind speed")  # an answer key, numbered
    assert not is_aside("5. Bolt the mast to the wall.")
    # A numbered line opening with an initial or an outline letter teaches.
    assert not is_aside("1. E. coli doubles every 20 minutes in warm broth.")
    # A placeholder for text not written yet, with at most a short label, is no teaching.
    assert is_aside("- **Videos**: [TBD - week 2 lecture videos]")
    assert is_aside("- Calibration day: (TODO)") and is_aside("TBA")
    assert not is_aside("Leave a TODO comment where the logger is unfinished.")
    assert not is_aside("- Todo lists keep the field trip on track.")
    assert not is_aside("2. b. Run the installer.")
    assert not is_aside("4. (a) the first case holds here")
    assert not is_aside("See the [wiring guide](./wiring) before you solder the header pins on.")
    assert not is_aside("A plain sentence that teaches something.")
    assert is_question("1. **What is the primary function of Gazebo?**")


def test_a_numbered_acronym_matches_its_spaced_spelling_and_is_no_unknown_name() -> None:
    assert {"ros", "2"} <= set(lexical.terms("A ROS2 node")) and "ros2" in lexical.terms("ROS2")
    assert lexical.name_terms("What is a ROS2 node?") == {"ros", "2"}  # not `ros2`
    # A query's words that only mix letters and digits keep their one term: `Context7` asks
    # about Context7, not `context`; a book's name with a version number is also read without
    # it, so a reader naming the TurtleBot finds the book's TurtleBot3.
    assert lexical.terms("Context7 and k8s", versions=False) == ["context7", "k8s"]
    assert lexical.terms("Context7 and k8s") == ["context7", "context", "k8s"]
    assert lexical.query_vector("Context7").indices == [lexical.term_id("context7")]
    assert "turtlebot" in lexical.terms("The TurtleBot3 model")
    assert lexical.words("ROS2").count("ros") == 1  # its acronym's part already
    # Only a name is read without its number: `base64` is no `base`; a question asking what
    # Context7 is asks about Context7 alone.
    assert "base" not in lexical.terms("Encode it as base64 or float64")
    assert defined_terms("What is Context7?") == ("context7",)


def test_a_language_named_by_a_letter_and_its_suffix_is_a_term() -> None:
    assert lexical.terms("Write it in C++, C# or F#.") == ["write", "c++", "c#", "f#"]
    assert lexical.terms("C++17 and g++") == ["c++", "17", "g++"]
    assert lexical.terms("total++; count++") == ["total", "count"]  # code: the names
    assert lexical.name_terms("Is there a C++ example?") == {"c++"}  # a name the book may lack
    # A pipe or a hash that joins two words joins no term to either.
    assert lexical.terms("issue#12 on page#anchor, a+b") == ["issu", "12", "page", "anchor"]
    assert lexical.terms("### Heading") == ["head"]


def test_compatibility_forms_are_read_as_the_letters_they_stand_for() -> None:
    # `I²C` is the bus's own spelling; full-width Latin is what Chinese and Japanese keyboards
    # type. Each was a term of its own, so the book's `I2C` and `rain gauge` were not found.
    assert lexical.terms("the I²C address") == lexical.terms("the I2C address")
    assert lexical.terms("ｒａｉｎ ｇａｕｇｅ") == lexical.terms("rain gauge")
    assert lexical.name_terms("the ＭＱＴＴ broker") == lexical.name_terms("the MQTT broker")
    assert lexical.terms("the ﬁrst ﬁx") == lexical.terms("the first fix")
