FROM localhost/busybox
RUN echo tool image > /tool
