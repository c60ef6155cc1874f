"""assortopt: joint assortment and inventory planning under the Markov chain choice model."""
