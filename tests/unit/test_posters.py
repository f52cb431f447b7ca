"""Generated poster SVGs: deterministic, well-formed, and impossible to inject into."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from filmsphere.services.catalogue.posters import poster_etag, poster_svg, wrap_title, xml_text

SVG = "{http://www.w3.org/2000/svg}"
NASTY = 'Bad <script>alert("x")</script> & "Quotes" \'too\'\x00\x1b'


def texts(root: ET.Element) -> str:
    return " ".join("".join(el.itertext()) for el in root.iter(f"{SVG}text"))


def test_hostile_title_is_escaped_and_the_svg_stays_well_formed() -> None:
    svg = poster_svg(NASTY, 10, '18"><script>')
    assert "<script" not in svg
    root = ET.fromstring(svg)  # raises on malformed XML (e.g. a raw & or \x00)
    assert not [el for el in root.iter() if el.tag.endswith("script")]
    assert {el.tag.removeprefix(SVG) for el in root.iter()} <= {
        "svg",
        "title",
        "defs",
        "linearGradient",
        "stop",
        "rect",
        "circle",
        "text",
        "tspan",
    }
    title = root.find(f"{SVG}title")
    assert title is not None
    assert title.text == 'Bad <script>alert("x")</script> & "Quotes" \'too\''
    assert root.get("aria-label") == f"Poster: {title.text}"
    assert '18">' in texts(root)  # the badge shows the first four characters, as text


def test_same_input_same_bytes_and_hue_changes_the_art() -> None:
    assert poster_svg("Neon Harbour", 290, "15") == poster_svg("Neon Harbour", 290, "15")
    assert poster_svg("Neon Harbour", 290, "15") != poster_svg("Neon Harbour", 100, "15")
    assert poster_etag("A", 1, "U") == poster_etag("A", 1, "U")
    assert (
        len(
            {
                poster_etag("A", 1, "U"),
                poster_etag("A", 2, "U"),
                poster_etag("B", 1, "U"),
                poster_etag("A", 1, "PG"),
            }
        )
        == 4
    )


def test_long_titles_wrap_into_at_most_four_lines() -> None:
    lines = wrap_title("Captain Marmalade and the Sky Pirates of the Northern Seas Returns")
    assert 1 < len(lines) <= 4
    assert all(len(line) <= 15 for line in lines)
    assert lines[-1].endswith("…")
    assert wrap_title("Supercalifragilisticexpialidocious") == [
        "Supercalifrag-",
        "ilisticexpial-",
        "idocious",
    ]
    assert wrap_title("   ") == ["Untitled"]
    root = ET.fromstring(poster_svg("Kaze no Tōge", 165, "U"))
    assert "Kaze no Tōge" in texts(root)


def test_xml_text_escapes_markup_and_drops_illegal_characters() -> None:
    assert xml_text('<a href="x">&\'') == "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
    assert xml_text("ok\x00\x08\x0b") == "ok"
