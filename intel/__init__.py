"""Guest intelligence: what the cache and our own tags say about people and events.

`intel.people` gathers a person's profile, tags, notes, VIP score and repeat count for the
bot, exports and bulk filters; `intel.vip` scores people from configurable rules and says
why; `intel.trends` counts over time, places and companies. Nothing here writes to Luma.
"""
