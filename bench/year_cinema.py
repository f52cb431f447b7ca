"""The multiplex of bench/year_of_data.py: its 12 screens, 40 films and customers' names.

Plain data and two small pure helpers (a screen's layout text, a film's popularity over
its run); the loader in year_of_data.py turns them into a year of shows and sales.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ScreenSpec:
    name: str
    rows: int
    blocks: tuple[int, ...]  # seats per block, left to right; an aisle between blocks
    premium: tuple[int, ...]  # row indexes (0 = row A, furthest from the screen)
    vip: tuple[int, ...]
    broken: int = 0  # seats out of order
    big_format: bool = False  # one coin more per seat

    def layout(self) -> str:
        """Layout text in the app's codes (screens.parse_layout): one line per row; the
        front row has wheelchair spaces (W) with a companion seat (C) beside them at both
        ends, like the demo's screens."""
        lines = []
        for row in range(self.rows):
            code = "V" if row in self.vip else "P" if row in self.premium else "S"
            blocks = [code * n for n in self.blocks]
            if row == self.rows - 1:  # front row: wheelchair spaces at the outer ends
                blocks[0] = "WC" + blocks[0][2:]
                blocks[-1] = blocks[-1][:-2] + "CW"
            lines.append(".".join(blocks))
        for n in range(self.broken):  # a broken seat or two in the middle rows
            row = self.rows // 3 + 2 * n
            line = lines[row]
            col = len(line) // 2 + n
            lines[row] = line[:col] + "X" + line[col + 1 :]
        return "\n".join(lines)


# 80 to 400 seats, aisles between blocks, premium rows in the middle of the house, VIP
# rows at the back (row A is the furthest from the screen), wheelchair spaces in front.
SCREENS: tuple[ScreenSpec, ...] = (
    ScreenSpec("Screen 1", 15, (6, 14, 6), (6, 7, 8, 9), (0, 1), broken=1, big_format=True),
    ScreenSpec("Screen 2", 14, (5, 14, 5), (5, 6, 7, 8), (0,), big_format=True),
    ScreenSpec("Screen 3", 13, (5, 12, 5), (5, 6, 7), (0,), broken=1),
    ScreenSpec("Screen 4", 12, (5, 12, 5), (5, 6, 7), (0,)),
    ScreenSpec("Screen 5", 12, (4, 12, 4), (4, 5, 6), (0,)),
    ScreenSpec("Screen 6", 11, (4, 12, 4), (4, 5, 6), (0,), broken=2),
    ScreenSpec("Screen 7", 10, (4, 11, 4), (4, 5), (0,)),
    ScreenSpec("Screen 8", 10, (3, 10, 3), (4, 5), (0,)),
    ScreenSpec("Screen 9", 9, (3, 9, 3), (3, 4), (0,)),
    ScreenSpec("Screen 10", 8, (3, 8, 3), (3, 4), (0,)),
    ScreenSpec("Screen 11", 7, (3, 8, 3), (2, 3), (0,)),
    ScreenSpec("Screen 12", 7, (2, 8, 2), (2, 3), (0,)),
)


@dataclass(frozen=True)
class FilmSpec:
    title: str
    genres: tuple[str, ...]
    language: str
    rating: str
    minutes: int
    hue: int
    popularity: float  # 1 is an ordinary film; 2 a blockbuster
    description: str


# 28 films besides the 12 demo films (filmsphere/services/ops/demo.py), invented like them.
# fmt: off
MORE_FILMS: tuple[FilmSpec, ...] = (
    FilmSpec("Paper Moons Over Lisbon", ("Romance", "Drama"), "Portuguese", "12A", 114, 15, 0.8,
             "A tram driver and a translator trade notes left on the last tram of the night, never "
             "meeting, until the city's trams are to be retired."),
    FilmSpec("The Last Ferry", ("Thriller",), "English", "15", 107, 200, 1.1,
             "Fog closes the harbour and forty passengers are stuck on the last ferry of the "
             "season with a man who swears one of them is not who they say."),
    FilmSpec("Iron Orchard", ("Action", "Science Fiction"), "English", "12A", 136, 100, 2.0,
             "On a farming colony where the trees are machines, a mechanic's daughter finds out "
             "what the orchard has been growing all along."),
    FilmSpec("Gentle Giants", ("Documentary", "Family"), "English", "U", 86, 140, 0.6,
             "A year with a family of elephants in northern Kenya, from the rains to the long walk "
             "to water."),
    FilmSpec("Midnight at the Paradiso", ("Comedy", "Romance"), "Italian", "12A", 103, 340, 0.9,
             "The projectionist of a seaside cinema in Puglia has one summer to save it, and two "
             "very different plans from two very different suitors."),
    FilmSpec("Hollow Creek", ("Horror",), "English", "18", 96, 10, 1.0,
             "A family moves into a farmhouse by a creek that has dried up every time someone in "
             "the village disappeared."),
    FilmSpec("Starlight Express Delivery", ("Animation", "Family", "Comedy"), "English", "U",
             91, 50, 1.9,
             "A clumsy young postal owl has one night to deliver every letter to Father Christmas "
             "before the sleigh leaves."),
    FilmSpec("The Cartographer's War", ("History", "Drama", "War"), "English", "15", 149, 30, 1.2,
             "1916: the army's mapmakers decide where men will march, and one of them starts "
             "drawing the maps wrong on purpose."),
    FilmSpec("Bao and the Dragon Kite", ("Animation", "Family"), "Mandarin", "U", 89, 0, 0.9,
             "A boy builds a kite from his grandmother's stories, and it flies him over the "
             "rooftops of old Chengdu in search of her lost village."),
    FilmSpec("Glass Hours", ("Mystery", "Thriller"), "English", "15", 118, 260, 1.1,
             "A glassblower who can see the last hour of anyone who touches her work is asked to "
             "identify a killer from a broken vase."),
    FilmSpec("Kings of the Cul-de-Sac", ("Comedy",), "English", "12A", 99, 60, 1.2,
             "Five neighbours, one street party and a feud over a parking space that has lasted "
             "thirty years."),
    FilmSpec("Nordlys", ("Drama",), "Norwegian", "12A", 121, 210, 0.5,
             "A fisherman's widow in Lofoten takes over her husband's boat and the debts that came "
             "with it."),
    FilmSpec("The Quiet Engine", ("Science Fiction", "Drama"), "English", "12A", 128, 230, 1.3,
             "The inventor of a silent engine that runs on nothing is hunted by everyone who sells "
             "something."),
    FilmSpec("Sabor a Mar", ("Comedy", "Drama"), "Spanish", "15", 104, 20, 0.6,
             "Three sisters inherit a failing fish restaurant in Cádiz and a recipe none of them "
             "can cook."),
    FilmSpec("Operation Nightingale", ("Action", "Thriller"), "English", "15", 131, 280, 1.8,
             "A retired codebreaker is pulled back for one job: find the leak in an operation that "
             "officially never existed."),
    FilmSpec("Little Lanterns", ("Animation", "Fantasy", "Family"), "English", "PG", 94, 45, 1.4,
             "The lanterns of a riverside town come alive once a year, and this year one of them "
             "refuses to go back to sleep."),
    FilmSpec("A Winter in Kraków", ("Romance", "History"), "Polish", "12A", 112, 220, 0.5,
             "1989: a student of music and a young border guard fall in love in the winter "
             "everything changed."),
    FilmSpec("Dust and Thunder", ("Western", "Adventure"), "English", "15", 133, 35, 1.0,
             "A cattle drive, a drought and a stranger who knows where the last water is."),
    FilmSpec("The Beekeeper's Apprentice", ("Family", "Drama"), "English", "PG", 101, 55, 0.8,
             "Sent to her grandfather's farm for the summer, a city girl learns more from his bees "
             "than she meant to."),
    FilmSpec("Signal Lost", ("Horror", "Science Fiction"), "English", "15", 97, 250, 1.0,
             "The crew of a weather station in Antarctica hear a radio broadcast from a ship that "
             "sank in 1959."),
    FilmSpec("Raat Ki Rani", ("Musical", "Romance"), "Hindi", "12A", 146, 320, 1.1,
             "A wedding singer and a reluctant groom-to-be have seven days and seven songs to stop "
             "the wrong wedding."),
    FilmSpec("Sous la Surface", ("Thriller", "Mystery"), "French", "15", 109, 195, 0.7,
             "A diver searching a flooded quarry in Burgundy finds a car that was reported stolen "
             "the day she was born."),
    FilmSpec("The Great Pudding Race", ("Comedy", "Family"), "English", "U", 88, 30, 1.3,
             "A village's annual pudding race turns into a grudge match when the baker's grandson "
             "challenges the champion."),
    FilmSpec("Echoes of Apollo", ("Documentary", "History"), "English", "PG", 98, 240, 0.6,
             "The engineers who built the Moon missions, in their own words and their own home "
             "movies."),
    FilmSpec("Red Tide Rising", ("Action", "Adventure"), "English", "12A", 142, 5, 1.9,
             "A marine biologist and a salvage captain race a private army to a sunken ship that "
             "could end the oceans' warming."),
    FilmSpec("Kissaten", ("Drama",), "Japanese", "PG", 108, 35, 0.6,
             "Regulars of a tiny Tokyo coffee house each get one more cup, and one more chance, "
             "before it closes for good."),
    FilmSpec("The Orchard Thieves", ("Crime", "Comedy"), "English", "15", 106, 90, 1.0,
             "Four pensioners plan to rob the cider magnate who bought their village, with a "
             "tractor, a tandem and a lot of patience."),
    FilmSpec("Wild Hearts of Patagonia", ("Documentary", "Adventure"), "Spanish", "U", 92, 180, 0.5,
             "Gauchos, pumas and the wind: a year on the last unfenced estancia of Patagonia."),
)
# fmt: on

# Popularity of the demo's 12 films, by title.
DEMO_POPULARITY = {
    "The Lighthouse Keeper's Daughter": 1.0,
    "Neon Harbour": 1.4,
    "Les Jardins de Minuit": 0.7,
    "El Último Tren a Sevilla": 0.8,
    "Kaze no Tōge": 1.1,
    "Orbit of Silence": 1.6,
    "Seoul After Rain": 0.8,
    "Der Uhrmacher": 0.6,
    "Captain Marmalade and the Sky Pirates": 1.5,
    "Blood Moon Motel": 1.0,
    "The Long Way to Tromsø": 0.5,
    "Velvet Riot": 0.9,
}


def all_films() -> list[FilmSpec]:
    """The demo's 12 films and the 28 above: 40 films."""
    from filmsphere.services.ops.demo import FILMS

    demo = [
        FilmSpec(
            f.title, f.genres, f.language, f.rating, f.minutes, f.hue,
            DEMO_POPULARITY.get(f.title, 1.0), f.description,
        )
        for f in FILMS
    ]  # fmt: skip
    return demo + list(MORE_FILMS)


def freshness(weeks_since_release: float) -> float:
    """How much a film draws in its n-th week: opening weekend best, then fading."""
    if weeks_since_release < 0:
        return 1.1  # previews before the release date
    return max(0.2, 1.3 * 0.9**weeks_since_release)


FIRST_NAMES = [
    "Amara",
    "Aiko",
    "Alejandro",
    "Amelia",
    "Ananya",
    "Arjun",
    "Astrid",
    "Ayesha",
    "Beatriz",
    "Ben",
    "Bilal",
    "Camille",
    "Chen",
    "Chloe",
    "Chidi",
    "Daniel",
    "Dara",
    "Elena",
    "Eli",
    "Emeka",
    "Emma",
    "Ewan",
    "Farah",
    "Fatima",
    "Finn",
    "Freya",
    "Gabriel",
    "Grace",
    "Hana",
    "Harry",
    "Hugo",
    "Ibrahim",
    "Imogen",
    "Ines",
    "Isla",
    "Jack",
    "Jamal",
    "Jin",
    "Joao",
    "Jonas",
    "Julia",
    "Kai",
    "Kamala",
    "Karim",
    "Katarzyna",
    "Kofi",
    "Lars",
    "Layla",
    "Leo",
    "Lina",
    "Lucas",
    "Lucy",
    "Maeve",
    "Magnus",
    "Maria",
    "Mateo",
    "Maya",
    "Mei",
    "Mohammed",
    "Nadia",
    "Niamh",
    "Noah",
    "Nora",
    "Olivia",
    "Omar",
    "Oscar",
    "Priya",
    "Rahul",
    "Ravi",
    "Rosa",
    "Ruby",
    "Sakura",
    "Sam",
    "Sara",
    "Sean",
    "Sofia",
    "Sven",
    "Tariq",
    "Thomas",
    "Tomasz",
    "Yara",
    "Yusuf",
    "Zainab",
    "Zoe",
]
LAST_NAMES = [
    "Adeyemi",
    "Ahmed",
    "Andersen",
    "Bauer",
    "Bennett",
    "Brennan",
    "Campbell",
    "Chowdhury",
    "Costa",
    "Dubois",
    "Evans",
    "Ferreira",
    "Fischer",
    "Garcia",
    "Gonzalez",
    "Green",
    "Hansen",
    "Hassan",
    "Hughes",
    "Ivanova",
    "Jensen",
    "Jones",
    "Kaur",
    "Kelly",
    "Khan",
    "Kim",
    "Kowalski",
    "Larsen",
    "Lee",
    "Lopez",
    "MacDonald",
    "Martin",
    "Mensah",
    "Moreau",
    "Murphy",
    "Nakamura",
    "Nguyen",
    "Novak",
    "Nowak",
    "O'Brien",
    "Okafor",
    "Okonkwo",
    "Olsen",
    "Park",
    "Patel",
    "Petrov",
    "Quinn",
    "Rahman",
    "Reid",
    "Rossi",
    "Santos",
    "Schmidt",
    "Shah",
    "Silva",
    "Singh",
    "Smith",
    "Sorensen",
    "Suzuki",
    "Tanaka",
    "Taylor",
    "Thomas",
    "Turner",
    "Walsh",
    "Watson",
    "Weber",
    "Williams",
    "Wilson",
    "Wood",
    "Wright",
    "Yamamoto",
    "Yilmaz",
    "Young",
    "Zhang",
]
EMAIL_DOMAINS = (
    "example.com",
    "example.org",
    "example.net",
    "post.example",
    "inbox.example",
    "mail.example",
)
