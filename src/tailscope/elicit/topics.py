"""Topics and topic-slotted list prompts for the query generator.

A few generic prompts ("questions to ask someone") make a model repeat itself: the same
hundred questions come back. Asking for lists about many different topics, in several
voices, spreads a generated pool across what people actually ask about.
"""

from __future__ import annotations

# Each is one user turn; "{topic}" is filled from GENERATION_TOPICS (or --topic).
TOPIC_TEMPLATES = (
    "Write a numbered list of 10 different questions people ask a chatbot about {topic}.",
    "Write a numbered list of 10 short questions someone might ask about {topic}.",
    "Write a numbered list of 10 questions a beginner asks about {topic}.",
    "Write a numbered list of 10 questions an annoyed customer asks about {topic}.",
    "Write a numbered list of 10 questions a teenager asks about {topic}.",
    "Write a numbered list of 10 questions a skeptic asks about {topic}.",
    "List of questions a curious person asks about {topic}:\n1.",
    "List of rude questions people ask about {topic}:\n1.",
)

# fmt: off
GENERATION_TOPICS = (
    # home and everyday life
    "cooking", "baking bread", "cleaning the house", "laundry", "gardening", "houseplants",
    "moving house", "my landlord", "roommates", "noisy neighbors", "furniture", "home repairs",
    "grocery shopping", "saving money", "budgeting", "credit cards", "taxes", "insurance",
    "renting an apartment", "buying a car", "public transport", "traffic", "parking",
    "commuting", "sleep", "morning routines", "coffee", "tea", "breakfast", "fast food",
    "vegetarian food", "dieting", "vitamins", "the common cold", "headaches", "allergies",
    "going to the dentist", "doctors", "hospitals", "pharmacies", "first aid",
    # people and feelings
    "my family", "my parents", "siblings", "raising children", "teenagers", "grandparents",
    "friendship", "dating", "online dating", "breakups", "weddings", "divorce", "loneliness",
    "anger", "stress", "anxiety", "happiness", "jealousy", "apologies", "arguments",
    "manners", "gossip", "lying", "trust", "my ex", "my boss", "coworkers", "customer service",
    # work and school
    "job interviews", "resumes", "quitting a job", "working from home", "meetings",
    "salaries", "starting a business", "marketing", "sales", "accounting", "homework",
    "exams", "university", "student loans", "teachers", "learning French",
    "learning Spanish", "grammar", "essay writing", "public speaking", "math", "statistics",
    "physics", "chemistry", "biology", "geology", "astronomy", "history", "ancient Rome",
    "world war two", "philosophy", "psychology", "economics", "law", "politics", "elections",
    "religion", "the news", "journalism",
    # technology
    "smartphones", "laptops", "the internet", "social media", "passwords", "computer viruses",
    "programming", "Python", "spreadsheets", "email", "spam email", "video calls",
    "AI assistants", "robots", "self-driving cars", "electric cars", "space travel",
    "3D printing", "cryptocurrency", "online shopping", "privacy", "hackers", "video games",
    # leisure and culture
    "movies", "television", "music", "concerts", "guitar", "piano", "singing", "dancing",
    "painting", "photography", "reading", "poetry", "comic books", "museums", "theater",
    "board games", "chess", "puzzles", "football", "basketball", "tennis", "golf",
    "swimming", "running", "cycling", "yoga", "the gym", "hiking", "camping", "fishing",
    "travel", "airports", "hotels", "beaches", "mountains", "road trips", "holidays",
    "birthdays", "Christmas", "Halloween", "fashion", "shoes", "makeup", "haircuts",
    "tattoos", "podcasts", "celebrities", "jokes", "magic tricks",
    # nature and the world
    "the weather", "rain", "winter", "summer", "climate change", "recycling", "pollution",
    "oceans", "volcanoes", "earthquakes", "forests", "deserts", "cats", "dogs", "birds",
    "horses", "insects", "spiders", "snakes", "sharks", "dinosaurs", "zoos", "farming",
    "cities", "small towns", "other countries", "immigration", "languages", "money",
    "the economy", "crime", "the police", "prisons", "the army", "war", "neighbors",
)
# fmt: on
