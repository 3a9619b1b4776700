# The foresight image: foresight-controller and foresight-extender (and the kubectl plugin)
# on Debian 12, as the Helm chart runs them. Build: docker build -t foresight:dev .
# (Not built by CI: the machines the project is developed on have no container engine.)
FROM debian:12 AS build
RUN apt-get update && apt-get install -y --no-install-recommends \
      build-essential pkg-config libcurl4-openssl-dev libjansson-dev libyajl-dev libyaml-dev \
      libssl-dev libwebsockets-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY Makefile ./
COPY lib lib
COPY controller controller
COPY extender extender
COPY cli cli
RUN make -j"$(nproc)" programs && make install DESTDIR=/out PREFIX=/usr/local

FROM debian:12-slim
RUN apt-get update && apt-get install -y --no-install-recommends \
      libcurl4 libjansson4 libyajl2 libyaml-0-2 libwebsockets17 libssl3 libcap2 ca-certificates \
    && rm -rf /var/lib/apt/lists/*
COPY --from=build /out/usr/local/bin/ /usr/local/bin/
USER 65532:65532
ENTRYPOINT ["foresight-controller"]
