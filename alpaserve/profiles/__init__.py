"""The profile database: stage latencies and memory per (model, parallel config, batch size).

Entries come from the analytic cost model (``source="analytic"``), from the parallel-config
search (``"analytic-dp-ilp"``) or from real devices (``"measured"``). The database saves to
JSON and imports/exports AlpaServe's TSV schema::

    ModelName  BS  #Microbatch  DP  OP  PP  #GPU  MeanTime(s)  StdTime(s)  TFLOPs
    StageWeights(B)  StagePeakMem(B)  StageLatencies(s)

where the last three columns hold Python-style lists with one value per stage. A TSV row only
says ``PP`` and ``OP``, so on import the layers are split evenly (:meth:`ParallelConfig.uniform`)
and the model specs must be supplied to know the layer counts.
"""


from alpaserve.profiles.database import FORMAT_VERSION, TSV_COLUMNS, ProfileDB
from alpaserve.profiles.entry import SOURCES, ProfileEntry, ProfileKey
from alpaserve.profiles.store import ProfileStore

__all__ = ["FORMAT_VERSION", "SOURCES", "TSV_COLUMNS", "ProfileDB", "ProfileEntry",
           "ProfileKey", "ProfileStore"]
